-- `doc` (V0003) was a generated column: PostgreSQL folded every resource's
-- keys with the recursive scim_fold_keys() on each insert and update, which
-- cut the projector's throughput by three quarters. The projector now writes
-- the folded copy itself (store::user_filter::fold_keys, same rule: keys
-- lower-cased at every depth, values untouched, the later of two colliding
-- keys wins). Existing rows keep the values already computed.
alter table scim_users alter column doc drop expression;
