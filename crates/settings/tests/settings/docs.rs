//! docs/configuration.md and deploy/rollcall.example.toml against the code.

use std::path::Path;

fn repository(path: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

#[test]
fn every_knob_has_its_row_with_the_codes_variable_flag_and_default() {
    let table = repository("docs/configuration.md");
    assert!(
        settings::docs::rows(&table).len() > 20,
        "the table is where the test looks"
    );
    let problems = settings::docs::check_catalogue(&table);
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_example_file_parses_and_names_every_knob() {
    let path = "deploy/rollcall.example.toml";
    let text = repository(path);
    settings::ConfigFile::parse(Path::new(path), &text).expect("the example parses");
    for arg in settings::catalogue().get_arguments() {
        let key = arg.get_id().as_str();
        assert!(
            text.lines().any(|line| line
                .trim_start_matches("# ")
                .starts_with(&format!("{key} = "))),
            "{path} does not show `{key}`"
        );
    }
}
