import Fluent
import FluentSQL
import Vapor

/// An e-learning course built in Interba (DESIGN.md 3.5), usually from a training module, exported as a Common
/// Cartridge and published to Moodle.
final class Course: Model, @unchecked Sendable {
    static let schema = "courses"

    @ID(key: .id) var id: UUID?
    @OptionalParent(key: "module_id") var module: TrainingModule?
    @Parent(key: "institution_id") var institution: Institution
    @Field(key: "title") var title: String
    /// Moodle's course short name (unique on a Moodle site).
    @Field(key: "shortname") var shortname: String
    @Field(key: "summary") var summary: String
    @Field(key: "outcomes") var outcomes: String
    @Field(key: "language") var language: String
    /// Raised on every change of the structure or the text; a new version is what Moodle gets on the next publish.
    @Field(key: "version") var version: Int
    @Field(key: "created_by_id") var createdByID: UUID
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}
}

/// An ordered section of a course; the first level of the cartridge's organisation (a Moodle section).
final class CourseSection: Model, @unchecked Sendable {
    static let schema = "course_sections"

    @ID(key: .id) var id: UUID?
    @Parent(key: "course_id") var course: Course
    @Field(key: "position") var position: Int
    @Field(key: "title") var title: String
    @Field(key: "summary") var summary: String

    init() {}
}

/// One item of a section: a page (Markdown), a repository record, an external link or a discussion topic.
final class CourseItem: Model, @unchecked Sendable {
    static let schema = "course_items"

    enum Kind: String, Codable, CaseIterable, Sendable {
        case page, record, url, discussion
        var catalogKey: String { "course.item.\(rawValue)" }
    }

    @ID(key: .id) var id: UUID?
    @Parent(key: "section_id") var section: CourseSection
    @Field(key: "position") var position: Int
    @Enum(key: "kind") var kind: Kind
    @Field(key: "title") var title: String
    /// Markdown of a page, or the opening text of a discussion topic.
    @Field(key: "body") var body: String
    @Field(key: "url") var url: String
    @OptionalField(key: "record_id") var recordID: UUID?

    init() {}
}

/// A file attached to a page (an image shown in it, or a document linked from it), packaged with the cartridge.
final class CourseAttachment: Model, @unchecked Sendable {
    static let schema = "course_attachments"

    @ID(key: .id) var id: UUID?
    @Parent(key: "item_id") var item: CourseItem
    @Field(key: "filename") var filename: String
    @Field(key: "media_type") var mediaType: String
    @Field(key: "size") var size: Int
    @Field(key: "sha256") var sha256: String

    init() {}
}

struct CreateElearning: AsyncMigration {
    var name: String { "0018_create_elearning" }

    func prepare(on db: any Database) async throws {
        try await db.schema(Course.schema)
            .id()
            .field("module_id", .uuid, .references(TrainingModule.schema, "id"))
            .field("institution_id", .uuid, .required, .references("institutions", "id"))
            .field("title", .string, .required)
            .field("shortname", .string, .required)
            .field("summary", .string, .required)
            .field("outcomes", .string, .required)
            .field("language", .string, .required)
            .field("version", .int, .required)
            .field("created_by_id", .uuid, .required, .references("users", "id"))
            .field("created_at", .datetime)
            .field("updated_at", .datetime)
            .unique(on: "shortname")
            .create()
        try await db.schema(CourseSection.schema)
            .id()
            .field("course_id", .uuid, .required, .references(Course.schema, "id"))
            .field("position", .int, .required)
            .field("title", .string, .required)
            .field("summary", .string, .required)
            .create()
        try await db.schema(CourseItem.schema)
            .id()
            .field("section_id", .uuid, .required, .references(CourseSection.schema, "id"))
            .field("position", .int, .required)
            .field("kind", .string, .required)
            .field("title", .string, .required)
            .field("body", .string, .required)
            .field("url", .string, .required)
            .field("record_id", .uuid, .references("repository_records", "id"))
            .create()
        try await db.schema(CourseAttachment.schema)
            .id()
            .field("item_id", .uuid, .required, .references(CourseItem.schema, "id"))
            .field("filename", .string, .required)
            .field("media_type", .string, .required)
            .field("size", .int, .required)
            .field("sha256", .string, .required)
            .create()
        guard let sql = db as? any SQLDatabase else { return }
        try await sql.raw("CREATE INDEX course_sections_course ON course_sections (course_id, position)").run()
        try await sql.raw("CREATE INDEX course_items_section ON course_items (section_id, position)").run()
    }

    func revert(on db: any Database) async throws {
        for schema in [CourseAttachment.schema, CourseItem.schema, CourseSection.schema, Course.schema] { try await db.schema(schema).delete() }
    }
}
