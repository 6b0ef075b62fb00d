import Fluent
import Vapor

/// A training module of the toolkit (DESIGN.md 3.4): outcomes, areas, hours, format and the five sections, each text
/// per language (Markdown). Guidelines ship as modules.
final class TrainingModule: Model, @unchecked Sendable {
    static let schema = "training_modules"

    enum State: String, Codable, CaseIterable, Sendable {
        case proposed
        case inDesign = "in_design"
        case piloted, approved, published, retired

        var catalogKey: String { "training.module_state.\(rawValue)" }
    }

    enum Kind: String, Codable, CaseIterable, Sendable {
        case module, guideline
        case trainTheTrainers = "train_the_trainers"
    }

    static let sections = ["objectives", "content", "activities", "assessment", "evaluation"]

    @ID(key: .id) var id: UUID?
    @Field(key: "slug") var slug: String
    @Enum(key: "kind") var kind: Kind
    @Enum(key: "state") var state: State
    @Field(key: "version") var version: Int
    @Field(key: "title") var title: [String: String]
    @Field(key: "summary") var summary: [String: String]
    @Field(key: "outcomes") var outcomes: [String: String]
    /// Section name → language → Markdown.
    @Field(key: "sections") var sections: [String: [String: String]]
    @Field(key: "areas") var areas: [String]
    @Field(key: "hours") var hours: Double
    @Field(key: "format") var format: String
    /// Concept ids of repository records used as materials.
    @Field(key: "materials") var materials: [UUID]
    @OptionalParent(key: "institution_id") var institution: Institution?
    @OptionalField(key: "created_by_id") var createdByID: UUID?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}
}

/// What a module said at each version, kept when it changes after publication.
final class TrainingModuleVersion: Model, @unchecked Sendable {
    static let schema = "training_module_versions"

    @ID(key: .id) var id: UUID?
    @Parent(key: "module_id") var module: TrainingModule
    @Field(key: "version") var version: Int
    /// The module's fields as JSON at that version.
    @Field(key: "snapshot") var snapshot: String
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?

    init() {}
}

/// A training event: train-the-trainers workshop, pilot training, short training (from a Request for Knowledge), webinar.
final class TrainingEvent: Model, @unchecked Sendable {
    static let schema = "training_events"

    enum Kind: String, Codable, CaseIterable, Sendable {
        case trainTheTrainers = "train_the_trainers"
        case pilot
        case short
        case webinar

        var catalogKey: String { "training.kind.\(rawValue)" }
    }

    enum Status: String, Codable, CaseIterable, Sendable { case scheduled, cancelled }

    @ID(key: .id) var id: UUID?
    @Enum(key: "kind") var kind: Kind
    @Enum(key: "status") var status: Status
    @Field(key: "title") var title: String
    @Field(key: "description") var description: String
    @OptionalParent(key: "module_id") var module: TrainingModule?
    @OptionalField(key: "request_id") var requestID: UUID?
    @Parent(key: "institution_id") var institution: Institution
    @Field(key: "organiser_id") var organiserID: UUID
    @Field(key: "areas") var areas: [String]
    @Field(key: "language") var language: String
    /// IANA time zone in which sessions are entered and shown.
    @Field(key: "time_zone") var timeZone: String
    @Field(key: "capacity") var capacity: Int
    @Field(key: "requires_approval") var requiresApproval: Bool
    @OptionalField(key: "registration_opens") var registrationOpens: Date?
    @OptionalField(key: "registration_closes") var registrationCloses: Date?
    @Field(key: "hours") var hours: Double
    /// Completion rule: the share of sessions attended (0…1) and whether the evaluation is required.
    @Field(key: "min_attendance") var minAttendance: Double
    @Field(key: "requires_evaluation") var requiresEvaluation: Bool
    /// A refresher event: each completion counts as re-training.
    @Field(key: "is_refresher") var isRefresher: Bool
    /// RFC 5545 SEQUENCE of the event's calendar entries, raised on every change.
    @Field(key: "sequence") var sequence: Int
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}
}

/// A trainer of an event (a user of the platform).
final class EventTrainer: Model, @unchecked Sendable {
    static let schema = "event_trainers"

    @ID(key: .id) var id: UUID?
    @Parent(key: "event_id") var event: TrainingEvent
    @Parent(key: "user_id") var user: User

    init() {}
}

/// One session of an event, stored in UTC.
final class EventSession: Model, @unchecked Sendable {
    static let schema = "event_sessions"

    @ID(key: .id) var id: UUID?
    @Parent(key: "event_id") var event: TrainingEvent
    @Field(key: "starts_at") var startsAt: Date
    @Field(key: "ends_at") var endsAt: Date
    @Field(key: "venue") var venue: String
    @Field(key: "online_url") var onlineURL: String
    @Field(key: "cancelled") var cancelled: Bool
    @Field(key: "sequence") var sequence: Int
    /// The secret in the session's check-in QR code.
    @Field(key: "checkin_code") var checkinCode: String

    init() {}
}

/// A person's place in an event: waiting for approval, registered, on the waiting list, cancelled or declined.
final class EventRegistration: Model, @unchecked Sendable {
    static let schema = "event_registrations"

    enum Status: String, Codable, CaseIterable, Sendable {
        case pending, registered, waitlisted, cancelled, declined

        var catalogKey: String { "training.registration.\(rawValue)" }
        /// Holds one of the event's places.
        var holdsPlace: Bool { self == .registered }
    }

    @ID(key: .id) var id: UUID?
    @Parent(key: "event_id") var event: TrainingEvent
    @Parent(key: "user_id") var user: User
    @Enum(key: "status") var status: Status
    /// Order on the waiting list (and of arrival).
    @Field(key: "position") var position: Int
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}
}

/// Present, absent or excused, per session and person.
final class SessionAttendance: Model, @unchecked Sendable {
    static let schema = "session_attendance"

    enum Mark: String, Codable, CaseIterable, Sendable {
        case present, absent, excused
        var catalogKey: String { "training.attendance.\(rawValue)" }
    }

    @ID(key: .id) var id: UUID?
    @Parent(key: "session_id") var session: EventSession
    @Field(key: "user_id") var userID: UUID
    @Enum(key: "mark") var mark: Mark
    /// "roll_call" or "qr".
    @Field(key: "source") var source: String
    @Timestamp(key: "recorded_at", on: .update) var recordedAt: Date?

    init() {}
}

/// A participant's feedback on an event: ratings 1–5 per item and a comment.
final class EventEvaluation: Model, @unchecked Sendable {
    static let schema = "event_evaluations"

    static let items = ["content", "relevance", "trainers", "organisation"]

    @ID(key: .id) var id: UUID?
    @Parent(key: "event_id") var event: TrainingEvent
    @Field(key: "user_id") var userID: UUID
    @Field(key: "ratings") var ratings: [Int]
    @Field(key: "comment") var comment: String
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?

    init() {}
}

/// A completed training: the row of the trained-academics list, with what the list filters by copied in.
final class TrainingCompletion: Model, @unchecked Sendable {
    static let schema = "training_completions"

    @ID(key: .id) var id: UUID?
    @Parent(key: "event_id") var event: TrainingEvent
    @Parent(key: "user_id") var user: User
    @OptionalField(key: "institution_id") var institutionID: UUID?
    @Field(key: "country_code") var countryCode: String
    @Field(key: "event_kind") var eventKind: String
    /// The event's areas, space-separated with a leading and trailing space (" A3 A7 "), for `LIKE '% A3 %'`.
    @Field(key: "areas") var areas: String
    @Field(key: "year") var year: Int
    @Field(key: "hours") var hours: Double
    /// A further completion in an area already completed, or at a refresher event.
    @Field(key: "retrained") var retrained: Bool
    /// "attendance" (the rule) or "moodle" (a course completion read back from Moodle).
    @Field(key: "source") var source: String
    @Field(key: "completed_at") var completedAt: Date

    init() {}

    var areaList: [String] { areas.split(separator: " ").map(String.init) }
}

/// A verifiable certificate for a completion.
final class Certificate: Model, @unchecked Sendable {
    static let schema = "certificates"

    @ID(key: .id) var id: UUID?
    @Parent(key: "completion_id") var completion: TrainingCompletion
    @Field(key: "code") var code: String
    @Field(key: "holder_name") var holderName: String
    @Field(key: "holder_email") var holderEmail: String
    @Field(key: "event_title") var eventTitle: String
    @Field(key: "event_kind") var eventKind: String
    @Field(key: "first_day") var firstDay: Date
    @Field(key: "last_day") var lastDay: Date
    @Field(key: "hours") var hours: Double
    @Parent(key: "issuer_id") var issuer: Institution
    /// Salt of the hashed recipient in the Open Badges assertion.
    @Field(key: "badge_salt") var badgeSalt: String
    @Field(key: "issued_at") var issuedAt: Date
    @OptionalField(key: "revoked_at") var revokedAt: Date?
    @OptionalField(key: "revoke_reason") var revokeReason: String?

    init() {}
}

/// Per person and institution: how many completions and how many of them re-trainings. Kept in the transaction of
/// each completion, so the trained-academics counts without an area, kind or year filter read one row per person
/// instead of every completion.
final class TrainedPerson: Model, @unchecked Sendable {
    static let schema = "trained_people"

    @ID(key: .id) var id: UUID?
    @Field(key: "user_id") var userID: UUID
    /// The institution's id, or "" for people without one (a key that is never NULL, so upserts match).
    @Field(key: "institution_key") var institutionKey: String
    @Field(key: "country_code") var countryCode: String
    @Field(key: "completions") var completions: Int
    @Field(key: "retrained") var retrained: Int

    init() {}
}
