-- Partitions of the projection (issue 13, docs/scaling.md "Partitions"):
-- each partition's projector has its own row in checkpoints, named
-- 'projector.<index>/<count>' ('projector' when the projection is not split;
-- `rollcall partitions` replaces one set of rows by another). Every such row
-- now notifies when it moves, and a partition's notification names its row
-- ('<name> <position>'), so an API process waits on the partition of the
-- organization it wrote to. The whole projection's stays the bare position
-- V0025 sent: API processes of the previous release, still running after
-- this migration, read it as before.
create or replace function notify_projected() returns trigger language plpgsql as $$
begin
    if new.name = 'projector' then
        perform pg_notify('rollcall_projected', new.position::text);
    else
        perform pg_notify('rollcall_projected', new.name || ' ' || new.position::text);
    end if;
    return null;
end
$$;

drop trigger checkpoints_notify_projected on checkpoints;

create trigger checkpoints_notify_projected
    after update on checkpoints
    for each row when ((new.name = 'projector' or new.name like 'projector.%')
                       and new.position > old.position)
    execute function notify_projected();

-- A new split's rows are inserted where they start: the API hears the split.
create trigger checkpoints_notify_split
    after insert on checkpoints
    for each row when (new.name = 'projector' or new.name like 'projector.%')
    execute function notify_projected();

-- Partitions read their events from the log by bucket (domain::partition).
-- No index: a partition's read walks the positions after its checkpoint, as
-- the whole projection's does, and skips other buckets' rows.
