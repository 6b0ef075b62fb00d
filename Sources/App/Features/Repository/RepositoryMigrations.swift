import Fluent
import FluentSQL

/// The knowledge repository: records, versions, files, reviews, and the search index tables of both databases.
struct CreateRepository: AsyncMigration {
    var name: String { "0009_create_repository" }

    func prepare(on db: any Database) async throws {
        try await db.schema(RepositoryRecord.schema)
            .id()
            .field("institution_id", .uuid, .required, .references("institutions", "id"))
            .field("owner_id", .uuid, .required, .references("users", "id"))
            .field("visibility", .string, .required)
            .field("latest_version", .int, .required)
            .field("published_version", .int)
            .field("archived_at", .datetime)
            .field("harvestable_since", .datetime)
            .field("datestamp", .datetime, .required)
            .field("oai_sets", .string, .required)
            .field("created_at", .datetime).field("updated_at", .datetime)
            .create()
        try await db.schema(RecordVersion.schema)
            .id()
            .field("record_id", .uuid, .required, .references(RepositoryRecord.schema, "id"))
            .field("number", .int, .required)
            .field("state", .string, .required)
            .field("title", .string, .required)
            .field("description", .string, .required)
            .field("creators", .array(of: .json), .required)
            .field("resource_type", .string, .required)
            .field("areas", .array(of: .string), .required)
            .field("activity_types", .array(of: .string), .required)
            .field("languages", .array(of: .string), .required)
            .field("audience", .string, .required)
            .field("country_code", .string, .required)
            .field("year", .int, .required)
            .field("licence", .string, .required)
            .field("related_identifiers", .array(of: .json), .required)
            .field("origin", .string, .required)
            .field("links", .array(of: .json), .required)
            .field("created_by_id", .uuid, .required)
            .field("submitted_at", .datetime)
            .field("published_at", .datetime)
            .field("created_at", .datetime).field("updated_at", .datetime)
            .unique(on: "record_id", "number")
            .create()
        try await db.schema(RecordFile.schema)
            .id()
            .field("version_id", .uuid, .required, .references(RecordVersion.schema, "id"))
            .field("filename", .string, .required)
            .field("media_type", .string, .required)
            .field("size", .int, .required)
            .field("sha256", .string, .required)
            .field("extracted_text", .string)
            .field("position", .int, .required)
            .field("created_at", .datetime)
            .create()
        try await db.schema(RecordReview.schema)
            .id()
            .field("version_id", .uuid, .required, .references(RecordVersion.schema, "id"))
            .field("author_id", .uuid, .required)
            .field("action", .string, .required)
            .field("comment", .string, .required)
            .field("created_at", .datetime)
            .create()

        guard let sql = db as? any SQLDatabase else { return }
        try await sql.raw("CREATE INDEX repository_versions_state ON repository_versions (state)").run()
        try await sql.raw("CREATE INDEX repository_records_datestamp ON repository_records (datestamp)").run()
        // What harvesters see, in datestamp order: counted and paged from the index alone.
        try await sql.raw("CREATE INDEX repository_records_harvest ON repository_records (datestamp, id) WHERE harvestable_since IS NOT NULL").run()
        try await sql.raw("CREATE INDEX repository_files_version ON repository_files (version_id)").run()
        try await sql.raw("CREATE INDEX repository_reviews_version ON repository_reviews (version_id)").run()
        // The search index: one row per record with a published version (its newest), facets in their own table.
        if sql.dialect.name == "postgresql" {
            try await sql.raw("CREATE EXTENSION IF NOT EXISTS unaccent").run()
            // Lower case + unaccent (č → c, ë → e, đ → d); Cyrillic is left as it is. No stemming: the network writes in eight languages.
            try await sql.raw("""
                DO $$ BEGIN
                  IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'interba_fold') THEN
                    CREATE TEXT SEARCH CONFIGURATION interba_fold (COPY = simple);
                    ALTER TEXT SEARCH CONFIGURATION interba_fold ALTER MAPPING FOR hword, hword_part, word WITH unaccent, simple;
                  END IF;
                END $$
                """).run()
            try await sql.raw("""
                CREATE TABLE repository_search (
                  doc_id BIGSERIAL PRIMARY KEY, record_id TEXT NOT NULL UNIQUE, version_id TEXT NOT NULL,
                  institution_id TEXT NOT NULL, visibility TEXT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL,
                  published_at DOUBLE PRECISION NOT NULL, document TSVECTOR NOT NULL)
                """).run()
            try await sql.raw("CREATE INDEX repository_search_document ON repository_search USING GIN (document)").run()
        } else {
            try await sql.raw("""
                CREATE TABLE repository_search (
                  doc_id INTEGER PRIMARY KEY, record_id TEXT NOT NULL UNIQUE, version_id TEXT NOT NULL,
                  institution_id TEXT NOT NULL, visibility TEXT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL,
                  published_at DOUBLE PRECISION NOT NULL)
                """).run()
            // Text goes in already folded (see SearchFolding), so the tokenizer only splits words.
            // Contentless: snippets come from repository_search.body, so the folded text is not stored twice.
            try await sql.raw("CREATE VIRTUAL TABLE repository_fts USING fts5(title, body, tags, content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 2')").run()
        }
        try await sql.raw("CREATE INDEX repository_search_published ON repository_search (published_at, visibility, institution_id)").run()
        try await sql.raw("CREATE TABLE repository_facets (doc_id BIGINT NOT NULL, facet TEXT NOT NULL, value TEXT NOT NULL)").run()
        try await sql.raw("CREATE INDEX repository_facets_value ON repository_facets (facet, value, doc_id)").run()
        try await sql.raw("CREATE INDEX repository_facets_doc ON repository_facets (doc_id, facet, value)").run()
    }

    func revert(on db: any Database) async throws {
        if let sql = db as? any SQLDatabase {
            try await sql.raw("DROP TABLE IF EXISTS repository_facets").run()
            try await sql.raw("DROP TABLE IF EXISTS repository_search").run()
            if sql.dialect.name != "postgresql" { try await sql.raw("DROP TABLE IF EXISTS repository_fts").run() }
        }
        try await db.schema(RecordReview.schema).delete()
        try await db.schema(RecordFile.schema).delete()
        try await db.schema(RecordVersion.schema).delete()
        try await db.schema(RepositoryRecord.schema).delete()
    }
}

/// Each search document's facets as one short text (see `FacetLists`) instead of a row per facet value, so a search
/// counts every facet from the documents it matched in one pass: on SQLite in a narrow table beside the search rows
/// (with the date, for ordering), on PostgreSQL as a column of the search row. The lists are built from the facet
/// rows, which then go (they were derived from the records and are rebuilt by `revert`).
struct SearchFacetLists: AsyncMigration {
    var name: String { "0020_search_facet_lists" }

    func prepare(on db: any Database) async throws {
        try await db.transaction { tx in
            guard let sql = tx as? any SQLDatabase else { return }
            if sql.dialect.name == "postgresql" {
                try await sql.raw("ALTER TABLE repository_search ADD COLUMN facets TEXT NOT NULL DEFAULT ''").run()
                try await sql.raw("""
                    UPDATE repository_search s SET facets = COALESCE((SELECT string_agg(f.facet || chr(31) || f.value, chr(30) ORDER BY f.facet, f.value)
                      FROM repository_facets f WHERE f.doc_id = s.doc_id), '')
                    """).run()
            } else {
                try await sql.raw("CREATE TABLE repository_search_docs (doc_id INTEGER PRIMARY KEY, published_at DOUBLE PRECISION NOT NULL, facets TEXT NOT NULL)").run()
                try await sql.raw("""
                    INSERT INTO repository_search_docs (doc_id, published_at, facets)
                    SELECT s.doc_id, s.published_at, COALESCE((SELECT group_concat(f.facet || char(31) || f.value, char(30))
                      FROM repository_facets f WHERE f.doc_id = s.doc_id), '') FROM repository_search s
                    """).run()
            }
            try await sql.raw("DROP TABLE repository_facets").run()
        }
    }

    func revert(on db: any Database) async throws {
        try await db.transaction { tx in
            guard let sql = tx as? any SQLDatabase else { return }
            struct Lists: Decodable { var doc_id: Int64; var facets: String }
            let postgres = sql.dialect.name == "postgresql"
            let lists = try await sql.raw(postgres ? "SELECT doc_id, facets FROM repository_search" : "SELECT doc_id, facets FROM repository_search_docs")
                .all(decoding: Lists.self)
            try await sql.raw("CREATE TABLE repository_facets (doc_id BIGINT NOT NULL, facet TEXT NOT NULL, value TEXT NOT NULL)").run()
            try await sql.raw("CREATE INDEX repository_facets_value ON repository_facets (facet, value, doc_id)").run()
            try await sql.raw("CREATE INDEX repository_facets_doc ON repository_facets (doc_id, facet, value)").run()
            let rows: [SQLQueryString] = lists.flatMap { list in
                list.facets.split(separator: "\u{1E}").compactMap { pair -> SQLQueryString? in
                    let parts = pair.split(separator: "\u{1F}", maxSplits: 1).map(String.init)
                    return parts.count == 2 ? "(\(bind: list.doc_id), \(bind: parts[0]), \(bind: parts[1]))" : nil
                }
            }
            for start in stride(from: 0, to: rows.count, by: 2000) {
                try await sql.raw("INSERT INTO repository_facets (doc_id, facet, value) VALUES \(Array(rows[start..<min(start + 2000, rows.count)]).joined(separator: ", "))").run()
            }
            try await sql.raw(postgres ? "ALTER TABLE repository_search DROP COLUMN facets" : "DROP TABLE repository_search_docs").run()
        }
    }
}
