{#
  The GBFS documents a model reads from landing table gbfs_feeds (aliased `feeds`): the
  conditions of a WHERE clause. Described in _gbfs__macros.yml.
#}

{#
  `where {{ gbfs_new_documents(feeds) }}`: the documents of the feeds `feeds` (a list of
  feed names) served with HTTP 200, loaded since the model's watermark (gbfs_loaded_since)
  and not held yet (gbfs_new_landing_rows): each document is read once.
#}
{% macro gbfs_new_documents(feeds) -%}
    feeds.http_status = 200
    and feeds.feed in ('{{ feeds | join("', '") }}')
    {{ gbfs_loaded_since('feeds.loaded_at') }}
    {{ gbfs_new_landing_rows('feeds.id') }}
{%- endmacro %}

{#
  A JSON_TABLE of a GBFS document's own fields, `doc.last_updated_text` and
  `doc.gbfs_version` (text), over feeds.payload, for `cross join {{ gbfs_document_fields() }}`.
  A JSON_TABLE of their own, not json_extract: MariaDB keeps JSON as text, and a
  json_extract on the payload merged into a per-record select (or a NESTED PATH's parent
  columns) rescanned the megabytes of the snapshot for every record.
#}
{% macro gbfs_document_fields() -%}
    json_table(
        feeds.payload, '$' columns (
            {{ json_text_columns('last_updated as last_updated_text, version as gbfs_version') }}
        )
    ) as doc
{%- endmacro %}

{#
  Post-hook of the GBFS base models: delete the rows loaded more than var
  gbfs_retention_days before the newest row held (the raw snapshots' retention); the
  intermediate models and marts built from them keep theirs for ever.
#}
{% macro gbfs_retention_delete() -%}
    delete from {{ this }} where loaded_at < (
        select cutoff from (
            select timestampadd(day, -{{ var('gbfs_retention_days') }}, max(loaded_at)) as cutoff from {{ this }}
        ) as newest
    )
{%- endmacro %}

{#
  The checks (for reject_reason) every record of a GBFS status snapshot shares: its
  last_reported no time, the snapshot's last_updated missing, the snapshot stale (older than
  its ttl plus var gbfs_stale_grace_seconds when fetched). Reads last_reported_text,
  last_reported_at, snapshot_at, fetched_at_utc and ttl_s.
#}
{% macro gbfs_snapshot_checks() -%}
    {{- return([
        ['last_reported_text is not null and last_reported_at is null', 'last_reported not a time'],
        ['snapshot_at is null', 'snapshot last_updated missing or not a time'],
        ['fetched_at_utc > timestampadd(second, coalesce(ttl_s, 0) + ' ~ var('gbfs_stale_grace_seconds')
            ~ ', snapshot_at)', 'stale snapshot (older than its ttl when fetched)'],
    ]) }}
{%- endmacro %}
