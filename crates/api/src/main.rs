//! `rollcall-api`: the HTTP service as its own process. Run the relay and
//! projector beside it (`rollcall-projector`), or use `rollcall serve`.

fn main() {
    eprintln!(
        "rollcall-api: run `rollcall serve`, which starts the API with the relay and projector, \
               or `rollcall serve --api-only` beside `rollcall-projector`"
    );
    std::process::exit(2);
}
