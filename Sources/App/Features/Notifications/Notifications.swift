import Fluent
import FluentSQL
import Vapor

/// Something a person should know: shown in their inbox (with the unread count in the header) and, unless they
/// turned that kind off, mailed.
final class AppNotification: Model, @unchecked Sendable {
    static let schema = "notifications"

    enum Kind: String, Codable, CaseIterable, Sendable {
        case offer, acceptance, escalation
        case slaWarning = "sla_warning"
        case request
        case training
    }

    @ID(key: .id) var id: UUID?
    @Field(key: "user_id") var userID: UUID
    @Enum(key: "kind") var kind: Kind
    @Field(key: "title") var title: String
    @Field(key: "body") var body: String
    @Field(key: "link") var link: String
    @OptionalField(key: "read_at") var readAt: Date?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?

    init() {}
}

/// Kinds a person does not want by mail (the inbox always has everything).
final class MailOptOut: Model, @unchecked Sendable {
    static let schema = "notification_mail_opt_outs"

    @ID(key: .id) var id: UUID?
    @Field(key: "user_id") var userID: UUID
    @Field(key: "kind") var kind: String

    init() {}
}

struct CreateNotifications: AsyncMigration {
    var name: String { "0013_create_notifications" }

    func prepare(on db: any Database) async throws {
        try await db.schema(AppNotification.schema)
            .id()
            .field("user_id", .uuid, .required, .references("users", "id"))
            .field("kind", .string, .required)
            .field("title", .string, .required)
            .field("body", .string, .required)
            .field("link", .string, .required)
            .field("read_at", .datetime)
            .field("created_at", .datetime)
            .create()
        try await db.schema(MailOptOut.schema)
            .id()
            .field("user_id", .uuid, .required, .references("users", "id"))
            .field("kind", .string, .required)
            .unique(on: "user_id", "kind")
            .create()
        if let sql = db as? any SQLDatabase {
            try await sql.raw("CREATE INDEX notifications_user ON notifications (user_id, read_at)").run()
        }
    }

    func revert(on db: any Database) async throws {
        try await db.schema(MailOptOut.schema).delete()
        try await db.schema(AppNotification.schema).delete()
    }
}

/// Writes a notification in the person's language and mails it unless they opted out of that kind.
struct Notifier {
    let db: any Database
    let mailer: any Mailer
    let catalog: Catalog
    let baseURL: String

    func notify(_ user: User, _ kind: AppNotification.Kind, key: String, arguments: [String], link: String) async throws {
        let locale = UILocale(rawValue: user.preferredLocale ?? "en") ?? .en
        let title = catalog.text(key, locale, arguments)
        let body = catalog.text(key + "-body", locale, arguments + [baseURL + link])
        let note = AppNotification()
        note.userID = try user.requireID()
        note.kind = kind
        note.title = title
        note.body = body
        note.link = link
        try await note.create(on: db)
        let optedOut = try await MailOptOut.query(on: db).filter(\.$userID == user.requireID()).filter(\.$kind == kind.rawValue).count() > 0
        if !optedOut {
            try await mailer.send(MailMessage(to: user.email, subject: title, body: body + "\n"), on: db)
        }
    }

    static func unread(_ userID: UUID, on db: any Database) async throws -> Int {
        try await AppNotification.query(on: db).filter(\.$userID == userID).filter(\.$readAt == nil).count()
    }
}

/// The inbox: notifications newest first, mark as read, and the mail choice per kind.
struct NotificationRoutes: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let inbox = routes.grouped(User.redirectMiddleware(path: "/signin")).grouped("inbox")
        inbox.get(use: index)
        inbox.post("read", use: readAll)
        inbox.post(":id", "open", use: open)
        inbox.post("mail", use: mailChoices)
    }

    struct InboxView: Encodable {
        struct Row: Encodable {
            var id: String
            var title: String
            var body: String
            var when: String
            var unread: Bool
            var kind: String
        }
        var rows: [Row]
        var kinds: [Choice]
        var unread: Int
    }

    func index(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let notes = try await AppNotification.query(on: req.db).filter(\.$userID == actor.userID).sort(\.$createdAt, .descending).limit(200).all()
        let optOuts = Set(try await MailOptOut.query(on: req.db).filter(\.$userID == actor.userID).all().map(\.kind))
        let view = InboxView(
            rows: notes.map { .init(id: $0.id!.uuidString, title: $0.title, body: $0.body, when: req.formatDate($0.createdAt, time: true),
                                    unread: $0.readAt == nil, kind: req.t("inbox.kind.\($0.kind.rawValue)")) },
            kinds: AppNotification.Kind.allCases.map { Choice(value: $0.rawValue, label: req.t("inbox.kind.\($0.rawValue)"), selected: !optOuts.contains($0.rawValue)) },
            unread: notes.filter { $0.readAt == nil }.count)
        return try await req.page("inbox/index", titleKey: "inbox.title", view)
    }

    func readAll(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        try await AppNotification.query(on: req.db).filter(\.$userID == actor.userID).filter(\.$readAt == nil).set(\.$readAt, to: Date()).update()
        return req.seeOther("/inbox")
    }

    /// Marks one as read and follows its link.
    func open(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        guard let id = req.parameters.get("id", as: UUID.self),
              let note = try await AppNotification.query(on: req.db).filter(\.$id == id).filter(\.$userID == actor.userID).first() else { throw Abort(.notFound) }
        if note.readAt == nil { note.readAt = Date(); try await note.save(on: req.db) }
        return req.seeOther(note.link.hasPrefix("/") ? note.link : "/inbox")
    }

    func mailChoices(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let wanted = Set(Responding.formPairs(req.body.string ?? "").filter { $0.0 == "mail[]" }.map(\.1))
        try await req.db.transaction { tx in
            try await MailOptOut.query(on: tx).filter(\.$userID == actor.userID).delete()
            for kind in AppNotification.Kind.allCases where !wanted.contains(kind.rawValue) {
                let out = MailOptOut()
                out.userID = actor.userID
                out.kind = kind.rawValue
                try await out.create(on: tx)
            }
        }
        req.flash("success", "inbox.mail_saved")
        return req.seeOther("/inbox")
    }
}
