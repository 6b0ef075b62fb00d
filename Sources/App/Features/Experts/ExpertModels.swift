import Fluent
import FluentSQL
import Vapor

/// Where an expert serves, granted by the coordinator of that level (DESIGN.md 3.3).
enum NetworkLevel: String, Codable, CaseIterable, Sendable {
    case institutional, national, regional

    var rank: Int {
        switch self {
        case .institutional: 1
        case .national: 2
        case .regional: 3
        }
    }
}

/// A person's expert profile: what they know, in which languages and formats, how much they can take on.
final class ExpertProfile: Model, @unchecked Sendable {
    static let schema = "expert_profiles"

    enum Status: String, Codable, CaseIterable, Sendable {
        case nominated
        case underReview = "under_review"
        case active, paused, retired
    }

    enum Source: String, Codable, CaseIterable, Sendable {
        case signup, coordinator
        case needsAnalysis = "needs_analysis"
        case trainerCertification = "trainer_certification"
    }

    @ID(key: .id) var id: UUID?
    @Parent(key: "user_id") var user: User
    @Parent(key: "institution_id") var institution: Institution
    @Enum(key: "status") var status: Status
    @Enum(key: "level") var level: NetworkLevel
    @Enum(key: "source") var source: Source
    @Field(key: "bio") var bio: String
    @OptionalField(key: "orcid") var orcid: String?
    @Field(key: "languages") var languages: [String]
    @Field(key: "formats") var formats: [String]
    @Field(key: "capacity") var capacity: Int
    /// Listed in the public directory (name, institution, competencies, languages, formats, bio; never contact details).
    @Field(key: "is_public") var isPublic: Bool
    /// Sum and count of requesters' ratings (1–5), for the quality component of the match score.
    @Field(key: "rating_sum") var ratingSum: Int
    @Field(key: "rating_count") var ratingCount: Int
    @OptionalField(key: "nominated_by_id") var nominatedByID: UUID?
    /// The optional photo in the file store (migration 0015).
    @OptionalField(key: "photo_sha256") var photoSHA256: String?
    @OptionalField(key: "photo_type") var photoType: String?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}

    /// Mean rating on 0…1 (1 → 0, 5 → 1), nil before the first evaluation.
    var quality: Double? { ratingCount == 0 ? nil : (Double(ratingSum) / Double(ratingCount) - 1) / 4 }
}

/// One area of competence with a proficiency 1–4 and the evidence for it.
final class ExpertCompetency: Model, @unchecked Sendable {
    static let schema = "expert_competencies"

    @ID(key: .id) var id: UUID?
    @Parent(key: "expert_id") var expert: ExpertProfile
    @Field(key: "area") var area: String
    @Field(key: "proficiency") var proficiency: Int
    @Field(key: "evidence") var evidence: String
    @Field(key: "links") var links: [String]

    init() {}
}

/// A window in which the expert can take requests.
final class ExpertAvailability: Model, @unchecked Sendable {
    static let schema = "expert_availability"

    @ID(key: .id) var id: UUID?
    @Parent(key: "expert_id") var expert: ExpertProfile
    @Field(key: "starts_on") var startsOn: Date
    @Field(key: "ends_on") var endsOn: Date
    @Field(key: "note") var note: String

    init() {}
}

/// A Request for Knowledge (DESIGN.md 3.3): a structured description of a gap, routed up the escalation ladder.
final class KnowledgeRequest: Model, @unchecked Sendable {
    static let schema = "knowledge_requests"

    enum Urgency: String, Codable, CaseIterable, Sendable { case low, normal, high }

    @ID(key: .id) var id: UUID?
    @Parent(key: "requester_id") var requester: User
    @Parent(key: "institution_id") var institution: Institution
    @OptionalField(key: "org_unit_id") var orgUnitID: UUID?
    @Field(key: "title") var title: String
    @Field(key: "gap") var gap: String
    @Field(key: "outcomes") var outcomes: String
    @Field(key: "areas") var areas: [String]
    /// "campaignID:area" of a validated needs-analysis priority.
    @OptionalField(key: "linked_priority") var linkedPriority: String?
    @Field(key: "audience_role") var audienceRole: String
    @Field(key: "audience_size") var audienceSize: Int
    @Field(key: "formats") var formats: [String]
    @Field(key: "languages") var languages: [String]
    @OptionalField(key: "window_start") var windowStart: Date?
    @OptionalField(key: "window_end") var windowEnd: Date?
    @Enum(key: "urgency") var urgency: Urgency
    @Field(key: "constraints") var constraints: String
    @Field(key: "earlier_attempts") var earlierAttempts: String
    @Field(key: "consent_to_share") var consentToShare: Bool
    @Field(key: "state") var state: String
    /// 1 institutional, 2 national, 3 regional, 4 open listing.
    @Field(key: "level") var level: Int
    @Field(key: "level_since") var levelSince: Date
    @OptionalField(key: "submitted_at") var submittedAt: Date?
    @OptionalField(key: "resolved_record_id") var resolvedRecordID: UUID?
    @OptionalField(key: "planned_on") var plannedOn: Date?
    @OptionalField(key: "planned_format") var plannedFormat: String?
    @OptionalField(key: "delivered_on") var deliveredOn: Date?
    @OptionalField(key: "rating") var rating: Int?
    @OptionalField(key: "evaluation") var evaluation: String?
    @OptionalField(key: "knowledge_case_id") var knowledgeCaseID: UUID?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}

    var workflowState: RfKState { RfKState(rawValue: state) ?? .draft }
}

/// An offer of a request to one expert; it expires and passes to the next candidate.
final class RequestOffer: Model, @unchecked Sendable {
    static let schema = "request_offers"

    enum State: String, Codable, CaseIterable, Sendable { case open, accepted, declined, expired, withdrawn }

    @ID(key: .id) var id: UUID?
    @Parent(key: "request_id") var request: KnowledgeRequest
    @Parent(key: "expert_id") var expert: ExpertProfile
    @Enum(key: "state") var state: State
    @Field(key: "level") var level: Int
    @Field(key: "score") var score: Double
    @Field(key: "components") var components: MatchComponents
    @Field(key: "expires_at") var expiresAt: Date
    @OptionalField(key: "override_reason") var overrideReason: String?
    @OptionalField(key: "created_by_id") var createdByID: UUID?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}
}

/// The request's audit trail: every transition, who fired it, and what it recorded.
final class RequestEvent: Model, @unchecked Sendable {
    static let schema = "request_events"

    @ID(key: .id) var id: UUID?
    @Parent(key: "request_id") var request: KnowledgeRequest
    @OptionalField(key: "actor_id") var actorID: UUID?
    @Field(key: "actor_kind") var actorKind: String
    @Field(key: "event") var event: String
    @Field(key: "from_state") var fromState: String
    @Field(key: "to_state") var toState: String
    @Field(key: "level") var level: Int
    @Field(key: "note") var note: String
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?

    init() {}
}

struct CreateExpertNetwork: AsyncMigration {
    var name: String { "0011_create_expert_network" }

    func prepare(on db: any Database) async throws {
        try await db.schema(ExpertProfile.schema)
            .id()
            .field("user_id", .uuid, .required, .references("users", "id")).unique(on: "user_id")
            .field("institution_id", .uuid, .required, .references("institutions", "id"))
            .field("status", .string, .required)
            .field("level", .string, .required)
            .field("source", .string, .required)
            .field("bio", .string, .required)
            .field("orcid", .string)
            .field("languages", .array(of: .string), .required)
            .field("formats", .array(of: .string), .required)
            .field("capacity", .int, .required)
            .field("is_public", .bool, .required)
            .field("rating_sum", .int, .required)
            .field("rating_count", .int, .required)
            .field("nominated_by_id", .uuid)
            .field("created_at", .datetime).field("updated_at", .datetime)
            .create()
        try await db.schema(ExpertCompetency.schema)
            .id()
            .field("expert_id", .uuid, .required, .references(ExpertProfile.schema, "id"))
            .field("area", .string, .required)
            .field("proficiency", .int, .required)
            .field("evidence", .string, .required)
            .field("links", .array(of: .string), .required)
            .unique(on: "expert_id", "area")
            .create()
        try await db.schema(ExpertAvailability.schema)
            .id()
            .field("expert_id", .uuid, .required, .references(ExpertProfile.schema, "id"))
            .field("starts_on", .datetime, .required)
            .field("ends_on", .datetime, .required)
            .field("note", .string, .required)
            .create()
        try await db.schema(KnowledgeRequest.schema)
            .id()
            .field("requester_id", .uuid, .required, .references("users", "id"))
            .field("institution_id", .uuid, .required, .references("institutions", "id"))
            .field("org_unit_id", .uuid)
            .field("title", .string, .required)
            .field("gap", .string, .required)
            .field("outcomes", .string, .required)
            .field("areas", .array(of: .string), .required)
            .field("linked_priority", .string)
            .field("audience_role", .string, .required)
            .field("audience_size", .int, .required)
            .field("formats", .array(of: .string), .required)
            .field("languages", .array(of: .string), .required)
            .field("window_start", .datetime)
            .field("window_end", .datetime)
            .field("urgency", .string, .required)
            .field("constraints", .string, .required)
            .field("earlier_attempts", .string, .required)
            .field("consent_to_share", .bool, .required)
            .field("state", .string, .required)
            .field("level", .int, .required)
            .field("level_since", .datetime, .required)
            .field("submitted_at", .datetime)
            .field("resolved_record_id", .uuid)
            .field("planned_on", .datetime)
            .field("planned_format", .string)
            .field("delivered_on", .datetime)
            .field("rating", .int)
            .field("evaluation", .string)
            .field("knowledge_case_id", .uuid)
            .field("created_at", .datetime).field("updated_at", .datetime)
            .create()
        try await db.schema(RequestOffer.schema)
            .id()
            .field("request_id", .uuid, .required, .references(KnowledgeRequest.schema, "id"))
            .field("expert_id", .uuid, .required, .references(ExpertProfile.schema, "id"))
            .field("state", .string, .required)
            .field("level", .int, .required)
            .field("score", .double, .required)
            .field("components", .json, .required)
            .field("expires_at", .datetime, .required)
            .field("override_reason", .string)
            .field("created_by_id", .uuid)
            .field("created_at", .datetime).field("updated_at", .datetime)
            .create()
        try await db.schema(RequestEvent.schema)
            .id()
            .field("request_id", .uuid, .required, .references(KnowledgeRequest.schema, "id"))
            .field("actor_id", .uuid)
            .field("actor_kind", .string, .required)
            .field("event", .string, .required)
            .field("from_state", .string, .required)
            .field("to_state", .string, .required)
            .field("level", .int, .required)
            .field("note", .string, .required)
            .field("created_at", .datetime)
            .create()
        if let sql = db as? any SQLDatabase {
            try await sql.raw("CREATE INDEX knowledge_requests_state ON knowledge_requests (state, level)").run()
            try await sql.raw("CREATE INDEX request_offers_open ON request_offers (state, expires_at)").run()
            try await sql.raw("CREATE INDEX request_events_request ON request_events (request_id)").run()
            try await sql.raw("CREATE INDEX expert_competencies_area ON expert_competencies (area)").run()
        }
    }

    func revert(on db: any Database) async throws {
        for schema in [RequestEvent.schema, RequestOffer.schema, KnowledgeRequest.schema, ExpertAvailability.schema,
                       ExpertCompetency.schema, ExpertProfile.schema] {
            try await db.schema(schema).delete()
        }
    }
}
