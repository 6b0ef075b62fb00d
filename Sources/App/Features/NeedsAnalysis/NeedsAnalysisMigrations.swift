import Fluent
import FluentSQL

struct CreateNeedsAnalysis: AsyncMigration {
    var name: String { "0006_create_needs_analysis" }

    func prepare(on db: any Database) async throws {
        try await db.schema("instruments")
            .id()
            .field("code", .string, .required)
            .field("version", .int, .required)
            .field("definition", .json, .required)
            .field("frozen", .bool, .required)
            .field("institution_id", .uuid, .references("institutions", "id"))
            .field("previous_version_id", .uuid)
            .field("created_at", .datetime).field("updated_at", .datetime)
            .create()
        try await db.schema("campaigns")
            .id()
            .field("title", .string, .required)
            .field("instrument_id", .uuid, .required, .references("instruments", "id"))
            .field("scope", .string, .required)
            .field("scope_id", .string, .required)
            .field("target_institutions", .array(of: .uuid), .required)
            .field("groups", .array(of: .string), .required)
            .field("opens_on", .datetime, .required)
            .field("closes_on", .datetime, .required)
            .field("minimum_group_size", .int, .required)
            .field("state", .string, .required)
            .field("created_by_id", .uuid)
            .field("feasibility", .json, .required)
            .field("strategic_areas", .array(of: .string), .required)
            .field("results", .json)
            .field("analysed_at", .datetime)
            .field("validation", .json)
            .field("published_at", .datetime)
            .field("created_at", .datetime).field("updated_at", .datetime)
            .create()
        try await db.schema("campaign_invitations")
            .id()
            .field("campaign_id", .uuid, .required, .references("campaigns", "id"))
            .field("token_hash", .string, .required).unique(on: "token_hash")
            .field("group", .string, .required)
            .field("institution_id", .uuid, .required)
            .field("email", .string)
            .field("cap", .int)
            .field("uses", .int, .required)
            .field("parent_id", .uuid)
            .field("submitted_at", .datetime)
            .field("reminded_at", .datetime)
            .field("declared_at", .datetime)
            .field("created_at", .datetime).field("updated_at", .datetime)
            .create()
        try await db.schema("response_drafts")
            .id()
            .field("key_hash", .string, .required).unique(on: "key_hash")
            .field("campaign_id", .uuid, .required, .references("campaigns", "id"))
            .field("answers", .json, .required)
            .field("created_at", .datetime).field("updated_at", .datetime)
            .create()
        try await db.schema("survey_responses")
            .id()
            .field("campaign_id", .uuid, .required, .references("campaigns", "id"))
            .field("institution_id", .uuid, .required)
            .field("group", .string, .required)
            .field("submitted_on", .string, .required)
            .create()
        try await db.schema("survey_answers")
            .id()
            .field("response_id", .uuid, .required, .references("survey_responses", "id"))
            .field("campaign_id", .uuid, .required)
            .field("grp", .string, .required)
            .field("institution_id", .uuid, .required)
            .field("item_code", .string, .required)
            .field("area_code", .string)
            .field("importance", .int)
            .field("performance", .int)
            .field("number_value", .double)
            .field("text_value", .string)
            .create()
        try await db.schema("knowledge_capital_declarations")
            .id()
            .field("campaign_id", .uuid, .required, .references("campaigns", "id"))
            .field("institution_id", .uuid, .required)
            .field("name", .string, .required)
            .field("email", .string, .required)
            .field("areas", .array(of: .string), .required)
            .field("projects", .string, .required)
            .field("status", .string, .required)
            .field("created_at", .datetime).field("updated_at", .datetime)
            .create()
    }

    func revert(on db: any Database) async throws {
        for table in ["knowledge_capital_declarations", "survey_answers", "survey_responses", "response_drafts", "campaign_invitations", "campaigns", "instruments"] {
            try await db.schema(table).delete()
        }
    }
}

/// Indexes for the analysis query (GROUP BY item and group over a campaign's answers).
struct IndexSurveyAnswers: AsyncMigration {
    var name: String { "0007_index_survey_answers" }

    func prepare(on db: any Database) async throws {
        guard let sql = db as? any SQLDatabase else { return }
        // Covering, in GROUP BY order: the analysis reads this index only, without a sort.
        try await sql.raw("""
            CREATE INDEX IF NOT EXISTS survey_answers_analysis ON survey_answers \
            (campaign_id, item_code, area_code, grp, institution_id, importance, performance)
            """).run()
        try await sql.raw("CREATE INDEX IF NOT EXISTS survey_answers_response ON survey_answers (response_id)").run()
        try await sql.raw("CREATE INDEX IF NOT EXISTS survey_responses_campaign ON survey_responses (campaign_id)").run()
    }

    func revert(on db: any Database) async throws {
        guard let sql = db as? any SQLDatabase else { return }
        for index in ["survey_answers_analysis", "survey_answers_response", "survey_responses_campaign"] {
            try await sql.raw("DROP INDEX IF EXISTS \(unsafeRaw: index)").run()
        }
    }
}

/// Ships the default IaH instrument (Resources/Seed/instrument-iah.json) into every database.
struct SeedDefaultInstrument: AsyncMigration {
    var name: String { "0008_seed_default_instrument" }

    func prepare(on db: any Database) async throws {
        let definition = try SeedFile.decode(InstrumentDefinition.self, named: "instrument-iah.json")
        let existing = try await Instrument.query(on: db).filter(\.$code == definition.code).filter(\.$version == definition.version).first()
        guard existing == nil else { return }
        try await Instrument(definition: definition, institutionID: nil, previousVersionID: nil).create(on: db)
    }

    func revert(on db: any Database) async throws {}
}
