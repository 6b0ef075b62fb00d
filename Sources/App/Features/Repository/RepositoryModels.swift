import Fluent
import Vapor

/// Who may see a record: everyone, signed-in members of the network, or the record's institution only.
enum RecordVisibility: String, Codable, CaseIterable, Sendable {
    case `public`, network, institution
}

/// A version's place in the review workflow (DESIGN.md 3.2).
enum RecordState: String, Codable, CaseIterable, Sendable {
    case draft
    case inReview = "in_review"
    case published
    case archived
}

/// The concept record: one identity across versions. Its URL always shows the latest version the viewer may see.
final class RepositoryRecord: Model, @unchecked Sendable {
    static let schema = "repository_records"

    @ID(key: .id) var id: UUID?
    @Parent(key: "institution_id") var institution: Institution
    @Parent(key: "owner_id") var owner: User
    @Enum(key: "visibility") var visibility: RecordVisibility
    /// Number of the newest version (any state).
    @Field(key: "latest_version") var latestVersion: Int
    /// Number of the newest published version; nil until one is published.
    @OptionalField(key: "published_version") var publishedVersion: Int?
    @OptionalField(key: "archived_at") var archivedAt: Date?
    /// When the record was first exposed to harvesters (public and published). Once set, the record stays
    /// in OAI-PMH for good: as a deleted record when it is archived or no longer public.
    @OptionalField(key: "harvestable_since") var harvestableSince: Date?
    /// Last change a harvester must see (publication, new version, archiving, visibility).
    @Field(key: "datestamp") var datestamp: Date
    /// The OAI-PMH sets of the published version, space-delimited with spaces at both ends (" area:A4 institution:tirana "),
    /// so a set is found with LIKE '% area:A4 %'.
    @Field(key: "oai_sets") var oaiSets: String
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}

    init(institutionID: UUID, ownerID: UUID, visibility: RecordVisibility, now: Date) {
        self.$institution.id = institutionID
        self.$owner.id = ownerID
        self.visibility = visibility
        self.latestVersion = 1
        self.datestamp = now
        self.oaiSets = " "
    }

    var isArchived: Bool { archivedAt != nil }
    /// Public, published and not archived: what harvesters and anonymous visitors see.
    var isHarvestable: Bool { visibility == .public && publishedVersion != nil && archivedAt == nil }
}

/// A creator of a resource, DataCite-style.
struct RecordCreator: Codable, Equatable, Sendable {
    var name: String
    var affiliation: String
    var orcid: String?
}

/// A DOI, URL or handle the resource relates to, with the DataCite relation type.
struct RelatedIdentifier: Codable, Equatable, Sendable {
    var scheme: String
    var value: String
    var relation: String
}

/// A web link that is part of the resource (in place of or besides files).
struct RecordLink: Codable, Equatable, Sendable {
    var label: String
    var url: String
}

/// The descriptive metadata of one version (DESIGN.md 3.2).
struct RecordMetadata: Codable, Equatable, Sendable {
    var title: String
    var description: String
    var creators: [RecordCreator]
    var resourceType: String
    var areas: [String]
    var activityTypes: [String]
    var languages: [String]
    var audience: String
    var countryCode: String
    var year: Int
    var licence: String
    var relatedIdentifiers: [RelatedIdentifier]
    var origin: String
    var links: [RecordLink]
}

/// One numbered version of a record, with its own workflow state. Published versions are never changed again.
final class RecordVersion: Model, @unchecked Sendable {
    static let schema = "repository_versions"

    @ID(key: .id) var id: UUID?
    @Parent(key: "record_id") var record: RepositoryRecord
    @Field(key: "number") var number: Int
    @Enum(key: "state") var state: RecordState
    @Field(key: "title") var title: String
    @Field(key: "description") var description: String
    @Field(key: "creators") var creators: [RecordCreator]
    @Field(key: "resource_type") var resourceType: String
    @Field(key: "areas") var areas: [String]
    @Field(key: "activity_types") var activityTypes: [String]
    @Field(key: "languages") var languages: [String]
    @Field(key: "audience") var audience: String
    @Field(key: "country_code") var countryCode: String
    @Field(key: "year") var year: Int
    @Field(key: "licence") var licence: String
    @Field(key: "related_identifiers") var relatedIdentifiers: [RelatedIdentifier]
    @Field(key: "origin") var origin: String
    @Field(key: "links") var links: [RecordLink]
    @Field(key: "created_by_id") var createdByID: UUID
    @OptionalField(key: "submitted_at") var submittedAt: Date?
    @OptionalField(key: "published_at") var publishedAt: Date?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}

    init(recordID: UUID, number: Int, metadata: RecordMetadata, createdByID: UUID) {
        self.$record.id = recordID
        self.number = number
        self.state = .draft
        self.createdByID = createdByID
        self.metadata = metadata
    }

    var metadata: RecordMetadata {
        get {
            RecordMetadata(title: title, description: description, creators: creators, resourceType: resourceType, areas: areas,
                           activityTypes: activityTypes, languages: languages, audience: audience, countryCode: countryCode,
                           year: year, licence: licence, relatedIdentifiers: relatedIdentifiers, origin: origin, links: links)
        }
        set {
            title = newValue.title; description = newValue.description; creators = newValue.creators
            resourceType = newValue.resourceType; areas = newValue.areas; activityTypes = newValue.activityTypes
            languages = newValue.languages; audience = newValue.audience; countryCode = newValue.countryCode
            year = newValue.year; licence = newValue.licence; relatedIdentifiers = newValue.relatedIdentifiers
            origin = newValue.origin; links = newValue.links
        }
    }
}

/// A file of a version. The bytes live in `FileStorage` under their SHA-256, so versions share unchanged files.
final class RecordFile: Model, @unchecked Sendable {
    static let schema = "repository_files"

    @ID(key: .id) var id: UUID?
    @Parent(key: "version_id") var version: RecordVersion
    @Field(key: "filename") var filename: String
    @Field(key: "media_type") var mediaType: String
    @Field(key: "size") var size: Int
    @Field(key: "sha256") var sha256: String
    /// Plain text extracted for the search index (nil when the type has none).
    @OptionalField(key: "extracted_text") var extractedText: String?
    @Field(key: "position") var position: Int
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?

    init() {}
}

/// One step or comment in a version's review: who, what, when, and the words.
final class RecordReview: Model, @unchecked Sendable {
    static let schema = "repository_reviews"

    enum Action: String, Codable, CaseIterable, Sendable {
        case submitted
        case changesRequested = "changes_requested"
        case approved
        case comment
        case archived
        case withdrawn
    }

    @ID(key: .id) var id: UUID?
    @Parent(key: "version_id") var version: RecordVersion
    @Field(key: "author_id") var authorID: UUID
    @Enum(key: "action") var action: Action
    @Field(key: "comment") var comment: String
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?

    init() {}

    init(versionID: UUID, authorID: UUID, action: Action, comment: String) {
        self.$version.id = versionID
        self.authorID = authorID
        self.action = action
        self.comment = comment
    }
}
