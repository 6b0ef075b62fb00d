import Fluent
import Vapor

/// A versioned questionnaire. `frozen` once a campaign has opened with it.
final class Instrument: Model, @unchecked Sendable {
    static let schema = "instruments"

    @ID(key: .id) var id: UUID?
    @Field(key: "code") var code: String
    @Field(key: "version") var version: Int
    @Field(key: "definition") var definition: InstrumentDefinition
    @Field(key: "frozen") var frozen: Bool
    /// nil: shipped with the platform, usable by every coordinator.
    @OptionalField(key: "institution_id") var institutionID: UUID?
    @OptionalField(key: "previous_version_id") var previousVersionID: UUID?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}

    init(definition: InstrumentDefinition, institutionID: UUID?, previousVersionID: UUID?) {
        self.code = definition.code
        self.version = definition.version
        self.definition = definition
        self.frozen = false
        self.institutionID = institutionID
        self.previousVersionID = previousVersionID
    }
}

/// A needs-analysis campaign: one instrument, one scope, a window, and the states of DESIGN.md 3.1.
final class Campaign: Model, @unchecked Sendable {
    static let schema = "campaigns"

    enum State: String, Codable, CaseIterable {
        case draft, open, closed, analysed, validated, published
    }

    enum Scope: String, Codable, CaseIterable {
        case institution, country, region
    }

    @ID(key: .id) var id: UUID?
    @Field(key: "title") var title: String
    @Parent(key: "instrument_id") var instrument: Instrument
    @Enum(key: "scope") var scope: Scope
    /// Institution id, country code or region code.
    @Field(key: "scope_id") var scopeID: String
    @Field(key: "target_institutions") var targetInstitutions: [UUID]
    @Field(key: "groups") var groups: [String]
    @Field(key: "opens_on") var opensOn: Date
    @Field(key: "closes_on") var closesOn: Date
    @Field(key: "minimum_group_size") var minimumGroupSize: Int
    @Enum(key: "state") var state: State
    @OptionalField(key: "created_by_id") var createdByID: UUID?
    /// Area → feasibility 0…1, set by the coordinator before analysis.
    @Field(key: "feasibility") var feasibility: [String: Double]
    /// Areas that are national or roadmap priorities.
    @Field(key: "strategic_areas") var strategicAreas: [String]
    @OptionalField(key: "results") var results: CampaignResults?
    @OptionalField(key: "analysed_at") var analysedAt: Date?
    @OptionalField(key: "validation") var validation: PriorityValidation?
    @OptionalField(key: "published_at") var publishedAt: Date?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}
}

/// A single-use link for one person (email kept only to send and remind), or an open link for a group with a cap.
final class CampaignInvitation: Model, @unchecked Sendable {
    static let schema = "campaign_invitations"

    @ID(key: .id) var id: UUID?
    @Parent(key: "campaign_id") var campaign: Campaign
    @Field(key: "token_hash") var tokenHash: String
    @Field(key: "group") var group: String
    @Field(key: "institution_id") var institutionID: UUID
    @OptionalField(key: "email") var email: String?
    /// Open links only: how many submissions they accept, and how many they had.
    @OptionalField(key: "cap") var cap: Int?
    @Field(key: "uses") var uses: Int
    /// A respondent's own link made from an open link (their resume link); submissions count against the parent's cap.
    @OptionalField(key: "parent_id") var parentID: UUID?
    @OptionalField(key: "submitted_at") var submittedAt: Date?
    @OptionalField(key: "reminded_at") var remindedAt: Date?
    /// Set when the respondent, after submitting, chose to share their expertise by name (once per link).
    @OptionalField(key: "declared_at") var declaredAt: Date?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}

    var isOpenLink: Bool { cap != nil }
}

/// Answers saved but not yet submitted, keyed by the respondent's link (for save and resume).
/// Deleted on submission: nothing then links the answers to the link.
final class ResponseDraft: Model, @unchecked Sendable {
    static let schema = "response_drafts"

    @ID(key: .id) var id: UUID?
    @Field(key: "key_hash") var keyHash: String
    @Parent(key: "campaign_id") var campaign: Campaign
    @Field(key: "answers") var answers: [String: AnswerValue]
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}
}

/// A submitted, anonymous response: institution and stakeholder group, no identity, no link id, the day only.
final class SurveyResponse: Model, @unchecked Sendable {
    static let schema = "survey_responses"

    @ID(key: .id) var id: UUID?
    @Parent(key: "campaign_id") var campaign: Campaign
    @Field(key: "institution_id") var institutionID: UUID
    @Field(key: "group") var group: String
    /// yyyy-MM-dd only: an exact time could be matched against the link's "submitted" mark.
    @Field(key: "submitted_on") var submittedOn: String

    init() {}
}

/// One answer to one item. Importance/performance pairs fill both columns.
final class SurveyAnswer: Model, @unchecked Sendable {
    static let schema = "survey_answers"

    @ID(key: .id) var id: UUID?
    @Parent(key: "response_id") var response: SurveyResponse
    @Field(key: "campaign_id") var campaignID: UUID
    /// Copied from the response (fixed once submitted), so the analysis aggregates one covering index, no join.
    @Field(key: "grp") var group: String
    @Field(key: "institution_id") var institutionID: UUID
    @Field(key: "item_code") var itemCode: String
    @OptionalField(key: "area_code") var areaCode: String?
    @OptionalField(key: "importance") var importance: Int?
    @OptionalField(key: "performance") var performance: Int?
    @OptionalField(key: "number_value") var numberValue: Double?
    @OptionalField(key: "text_value") var textValue: String?

    init() {}
}

/// What a respondent entered for one item, before it is stored as a `SurveyAnswer`.
struct AnswerValue: Codable, Sendable, Equatable {
    var importance: Int?
    var performance: Int?
    var number: Double?
    /// Free text, a single choice code, multiple choice codes joined by "|", or a ranking as codes in order joined by "|".
    var text: String?

    var isEmpty: Bool { importance == nil && performance == nil && number == nil && (text ?? "").isEmpty }
}

/// Stored analysis of a campaign (computed by "analyse", never per view).
struct CampaignResults: Codable, Sendable {
    var responses: Int
    var responsesByGroup: [String: Int]
    /// Every component of the method (DESIGN.md 3.1 steps 1–7) for the whole campaign.
    var analysis: PriorityAnalysis.Report
    /// Country and region campaigns: each institution's area gaps, and the roll-up (step 8).
    var institutionGaps: [PriorityAnalysis.InstitutionGaps]
    var rollUp: PriorityAnalysis.RollUp?
}

/// The coordinator's confirmed priority list.
struct PriorityValidation: Codable, Sendable {
    struct Entry: Codable, Sendable {
        var area: String
        var rank: Int
        var rationale: String
    }
    var entries: [Entry]
    var validatedBy: UUID?
    var validatedAt: Date
}

/// Knowledge capital a respondent chose to share by name, after and apart from their anonymous answers:
/// expertise they could share (an expert nomination) and earlier international projects.
final class KnowledgeCapitalDeclaration: Model, @unchecked Sendable {
    static let schema = "knowledge_capital_declarations"

    enum Status: String, Codable, CaseIterable {
        case new, reviewed, nominated
    }

    @ID(key: .id) var id: UUID?
    @Parent(key: "campaign_id") var campaign: Campaign
    @Field(key: "institution_id") var institutionID: UUID
    @Field(key: "name") var name: String
    @Field(key: "email") var email: String
    @Field(key: "areas") var areas: [String]
    @Field(key: "projects") var projects: String
    @Enum(key: "status") var status: Status
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}
}
