-- Wake other processes at commit instead of letting them poll (issue 13,
-- docs/scaling.md). NOTIFY is transactional: PostgreSQL delivers it when the
-- transaction that raised it commits, and never if it rolls back, so a
-- listener never hears of a write it cannot read yet.
--
-- rollcall_appended: every append transaction moves log_head once, so a
-- statement-level trigger raises one notification per batch (the relay's
-- wake-up), not one per event. It carries nothing: the relay reads the log.
create function notify_appended() returns trigger language plpgsql as $$
begin
    perform pg_notify('rollcall_appended', '');
    return null;
end
$$;

create trigger log_head_notify_appended
    after update on log_head
    for each statement execute function notify_appended();

-- rollcall_projected: the projector's checkpoint moves once per folded batch,
-- in the transaction that changes the read tables; the notification carries
-- the position, so an API process waiting for read-your-writes needs no query.
create function notify_projected() returns trigger language plpgsql as $$
begin
    perform pg_notify('rollcall_projected', new.position::text);
    return null;
end
$$;

create trigger checkpoints_notify_projected
    after update on checkpoints
    for each row when (new.name = 'projector' and new.position > old.position)
    execute function notify_projected();
