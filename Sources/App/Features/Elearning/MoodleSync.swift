import Crypto
import Fluent
import FluentSQL
import Vapor

/// A Moodle site Interba talks to: for one institution, or platform-wide (no institution). The token is stored
/// encrypted (AES-GCM with a key derived from INTERBA_SECRET); only its last four characters are shown.
final class MoodleConnection: Model, @unchecked Sendable {
    static let schema = "moodle_connections"

    @ID(key: .id) var id: UUID?
    @OptionalParent(key: "institution_id") var institution: Institution?
    @Field(key: "site_url") var siteURL: String
    @Field(key: "token_cipher") var tokenCipher: String
    @Field(key: "token_hint") var tokenHint: String
    @Field(key: "category_id") var categoryID: Int
    @OptionalField(key: "site_name") var siteName: String?
    @OptionalField(key: "site_release") var siteRelease: String?
    @Field(key: "missing_functions") var missingFunctions: [String]
    @OptionalField(key: "checked_at") var checkedAt: Date?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?

    init() {}
}

/// What Interba created or found on a Moodle site, so a second sync changes nothing: kind "course" (local id = course),
/// "user" (local id = user), "enrolment" (local id = registration or trainer row).
final class MoodleLink: Model, @unchecked Sendable {
    static let schema = "moodle_links"

    @ID(key: .id) var id: UUID?
    @Parent(key: "connection_id") var connection: MoodleConnection
    @Field(key: "kind") var kind: String
    @Field(key: "local_id") var localID: UUID
    @Field(key: "moodle_id") var moodleID: Int
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}
}

/// A training event whose participants take this course on Moodle.
final class CourseEvent: Model, @unchecked Sendable {
    static let schema = "course_events"

    @ID(key: .id) var id: UUID?
    @Parent(key: "course_id") var course: Course
    @Parent(key: "event_id") var event: TrainingEvent

    init() {}
}

struct CreateMoodleSync: AsyncMigration {
    var name: String { "0019_create_moodle_sync" }

    func prepare(on db: any Database) async throws {
        try await db.schema(MoodleConnection.schema)
            .id()
            .field("institution_id", .uuid, .references("institutions", "id"))
            .field("site_url", .string, .required)
            .field("token_cipher", .string, .required)
            .field("token_hint", .string, .required)
            .field("category_id", .int, .required)
            .field("site_name", .string)
            .field("site_release", .string)
            .field("missing_functions", .array(of: .string), .required)
            .field("checked_at", .datetime)
            .field("created_at", .datetime)
            .create()
        try await db.schema(MoodleLink.schema)
            .id()
            .field("connection_id", .uuid, .required, .references(MoodleConnection.schema, "id"))
            .field("kind", .string, .required)
            .field("local_id", .uuid, .required)
            .field("moodle_id", .int, .required)
            .field("updated_at", .datetime)
            .unique(on: "connection_id", "kind", "local_id")
            .create()
        try await db.schema(CourseEvent.schema)
            .id()
            .field("course_id", .uuid, .required, .references(Course.schema, "id"))
            .field("event_id", .uuid, .required, .references(TrainingEvent.schema, "id"))
            .unique(on: "event_id")
            .create()
    }

    func revert(on db: any Database) async throws {
        for schema in [CourseEvent.schema, MoodleLink.schema, MoodleConnection.schema] { try await db.schema(schema).delete() }
    }
}

/// Seals and opens Moodle tokens with a key derived from the platform secret.
enum TokenBox {
    static func key(_ secret: String) -> SymmetricKey {
        SymmetricKey(data: SHA256.hash(data: Data(("interba-moodle-token:" + secret).utf8)))
    }

    static func seal(_ token: String, secret: String) throws -> String {
        guard let combined = try AES.GCM.seal(Data(token.utf8), using: key(secret)).combined else { throw Abort(.internalServerError) }
        return combined.base64EncodedString()
    }

    static func open(_ cipher: String, secret: String) throws -> String {
        guard let data = Data(base64Encoded: cipher) else { throw Abort(.internalServerError) }
        return String(decoding: try AES.GCM.open(try AES.GCM.SealedBox(combined: data), using: key(secret)), as: UTF8.self)
    }
}

struct MoodleTransportKey: StorageKey { typealias Value = any MoodleTransport }

extension Application {
    /// The HTTP transport, unless a test (or a demo) put a fake in its place.
    var moodleTransport: any MoodleTransport {
        get { storage[MoodleTransportKey.self] ?? HTTPMoodleTransport(client: client) }
        set { storage[MoodleTransportKey.self] = newValue }
    }
}

/// Publishing courses to Moodle, enrolling event participants, and reading completions back (DESIGN.md 3.5).
/// Links record only what Moodle confirmed, so a failed step leaves nothing half-made in Interba and the next run
/// picks up where it stopped; running it twice changes nothing.
struct MoodleSync {
    let db: any Database
    let transport: any MoodleTransport
    let secret: String
    var pause: @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    /// Users looked up or created per call, enrolments per call.
    var batch = 50
    var enrolBatch = 500

    func client(_ connection: MoodleConnection) throws -> MoodleClient {
        var client = MoodleClient(siteURL: connection.siteURL, token: try TokenBox.open(connection.tokenCipher, secret: secret), transport: transport)
        client.pause = pause
        return client
    }

    // MARK: connections

    func canManage(_ connection: MoodleConnection, _ actor: Actor) async throws -> Bool {
        guard let id = connection.$institution.id else { return actor.isAdmin }
        guard let institution = try await Institution.find(id, on: db) else { return false }
        return actor.canManage(InstitutionPlace(institutionID: id, countryCode: institution.countryCode))
    }

    func save(institutionID: UUID?, siteURL: String, token: String, categoryID: String, by actor: Actor) async throws -> MoodleConnection {
        var errors: [(String, String)] = []
        let url = siteURL.trimmingCharacters(in: .whitespaces)
        if !(url.hasPrefix("https://") || url.hasPrefix("http://")) || URL(string: url)?.host == nil { errors.append(("site_url", "moodle.error.site-url")) }
        let secretToken = token.trimmingCharacters(in: .whitespaces)
        if secretToken.count < 8 || secretToken.count > 200 { errors.append(("token", "moodle.error.token")) }
        let category = Int(categoryID.trimmingCharacters(in: .whitespaces))
        if category == nil || category! < 1 { errors.append(("category_id", "moodle.error.category")) }
        if let institutionID {
            guard let institution = try await Institution.find(institutionID, on: db) else { throw Abort(.notFound) }
            guard actor.canManage(InstitutionPlace(institutionID: institutionID, countryCode: institution.countryCode)) else { throw Forbidden() }
        } else if !actor.isAdmin { throw Forbidden() }
        if !errors.isEmpty { throw FieldErrors(errors) }
        let connection = try await MoodleConnection.query(on: db).filter(\.$institution.$id == institutionID).first() ?? MoodleConnection()
        connection.$institution.id = institutionID
        connection.siteURL = url.hasSuffix("/") ? String(url.dropLast()) : url
        connection.tokenCipher = try TokenBox.seal(secretToken, secret: secret)
        connection.tokenHint = String(secretToken.suffix(4))
        connection.categoryID = category!
        connection.missingFunctions = []
        connection.siteName = nil
        connection.siteRelease = nil
        connection.checkedAt = nil
        try await connection.save(on: db)
        return connection
    }

    /// "Test connection": the site's name and version and the functions the token may not call.
    func test(_ connection: MoodleConnection) async throws -> MoodleClient.SiteInfo {
        let info = try await client(connection).siteInfo()
        let allowed = Set(info.functions.map(\.name))
        connection.siteName = info.sitename
        connection.siteRelease = info.release
        connection.missingFunctions = MoodleClient.requiredFunctions.filter { !allowed.contains($0) }
        connection.checkedAt = Date()
        try await connection.save(on: db)
        return info
    }

    func connection(for course: Course) async throws -> MoodleConnection? {
        try await MoodleLinks.connection(for: course, on: db)
    }

    func link(_ connection: MoodleConnection, _ kind: String, _ localID: UUID) async throws -> MoodleLink? {
        try await MoodleLink.query(on: db).filter(\.$connection.$id == connection.requireID()).filter(\.$kind == kind).filter(\.$localID == localID).first()
    }

    func remember(_ connection: MoodleConnection, _ kind: String, _ localID: UUID, _ moodleID: Int) async throws {
        let row = try await link(connection, kind, localID) ?? MoodleLink()
        row.$connection.id = try connection.requireID()
        row.kind = kind
        row.localID = localID
        row.moodleID = moodleID
        try await row.save(on: db)
    }

    // MARK: publishing

    struct Report: Sendable, Equatable {
        var courseCreated = false
        var courseUpdated = false
        var usersCreated = 0
        var usersFound = 0
        var enrolled = 0
        /// People whose Moodle account (found by email) carries another name.
        var nameMismatches: [String] = []
    }

    /// Splits "Arta Hoxha" into Moodle's first and last name.
    static func names(_ full: String) -> (String, String) {
        let parts = full.split(separator: " ").map(String.init)
        guard parts.count > 1 else { return (full.isEmpty ? "-" : full, "-") }
        return (parts.dropLast().joined(separator: " "), parts.last!)
    }

    /// A Moodle username from an email: lower-case letters, digits and `._-@` only.
    static func username(_ email: String, suffix: Int = 0) -> String {
        let base = email.lowercased().filter { $0.isASCII && ($0.isLetter || $0.isNumber || "._-@".contains($0)) }
        return suffix == 0 ? base : "\(base)\(suffix)"
    }

    func publish(_ course: Course, events: [TrainingEvent], html: String, sections: Int) async throws -> Report {
        guard let connection = try await connection(for: course) else { throw MoodleFailure.notMoodle("no connection") }
        let client = try self.client(connection)
        let courseID = try course.requireID()
        var report = Report()
        let fields = MoodleClient.CourseFields(fullname: course.title, shortname: course.shortname, categoryID: connection.categoryID,
                                               summaryHTML: html, sections: max(1, sections))
        let moodleCourse: Int
        if let existing = try await link(connection, "course", courseID) {
            try await client.updateCourse(id: existing.moodleID, fields)
            moodleCourse = existing.moodleID
            report.courseUpdated = true
        } else {
            let created = try await client.createCourse(fields)
            try await remember(connection, "course", courseID, created.id)
            moodleCourse = created.id
            report.courseCreated = true
        }
        // The events whose people take the course.
        for event in events {
            let eventID = try event.requireID()
            if try await CourseEvent.query(on: db).filter(\.$event.$id == eventID).first() == nil {
                let row = CourseEvent()
                row.$course.id = courseID
                row.$event.id = eventID
                try await row.create(on: db)
            }
        }
        let linked = try await CourseEvent.query(on: db).filter(\.$course.$id == courseID).with(\.$event).all().map(\.event)
        // Participants (students) and trainers (teachers), each with the local row that stands for the enrolment.
        var people: [(user: User, role: Int, enrolment: UUID)] = []
        for event in linked {
            for registration in try await EventRegistration.query(on: db).filter(\.$event.$id == event.requireID()).filter(\.$status == .registered).with(\.$user).all() {
                people.append((registration.user, MoodleClient.studentRole, try registration.requireID()))
            }
            for trainer in try await EventTrainer.query(on: db).filter(\.$event.$id == event.requireID()).with(\.$user).all() {
                people.append((trainer.user, MoodleClient.teacherRole, try trainer.requireID()))
            }
        }
        // Users: already linked, found by email, or created.
        var moodleUser: [UUID: Int] = [:]
        var unlinked: [User] = []
        for user in Dictionary(people.map { ($0.user.id!, $0.user) }, uniquingKeysWith: { a, _ in a }).values.sorted(by: { $0.email < $1.email }) {
            if let existing = try await link(connection, "user", user.requireID()) { moodleUser[user.id!] = existing.moodleID } else { unlinked.append(user) }
        }
        for start in stride(from: 0, to: unlinked.count, by: batch) {
            let slice = Array(unlinked[start..<min(start + batch, unlinked.count)])
            let found = try await client.users(emails: slice.map(\.email))
            for user in slice {
                guard let match = found.first(where: { $0.email?.lowercased() == user.email.lowercased() }) else { continue }
                moodleUser[user.id!] = match.id
                try await remember(connection, "user", user.requireID(), match.id)
                report.usersFound += 1
                let (first, last) = Self.names(user.name)
                if (match.firstname ?? "") != first || (match.lastname ?? "") != last {
                    report.nameMismatches.append("\(user.name) ≠ \(match.firstname ?? "") \(match.lastname ?? "") <\(user.email)>")
                }
            }
            let missing = slice.filter { moodleUser[$0.id!] == nil }
            guard !missing.isEmpty else { continue }
            func newUser(_ user: User, suffix: Int) -> MoodleClient.NewUser {
                let (first, last) = Self.names(user.name)
                return .init(username: Self.username(user.email, suffix: suffix), email: user.email, firstname: first, lastname: last,
                             idnumber: "interba-\(user.id!.uuidString.lowercased())")
            }
            do {
                let created = try await client.createUsers(missing.map { newUser($0, suffix: 0) })
                for (user, row) in zip(missing, created) {
                    moodleUser[user.id!] = row.id
                    try await remember(connection, "user", user.requireID(), row.id)
                    report.usersCreated += 1
                }
            } catch MoodleFailure.moodle(let error) where error.errorcode == "invalidparameter" {
                // Moodle does not say which user: one at a time, and a taken username gets a number.
                for user in missing {
                    var created: MoodleClient.Created?
                    for suffix in 0..<4 where created == nil {
                        do { created = try await client.createUsers([newUser(user, suffix: suffix == 0 ? 0 : suffix + 1)]).first }
                        catch MoodleFailure.moodle(let error) where error.errorcode == "invalidparameter" && suffix < 3 { continue }
                    }
                    guard let created else { continue }
                    moodleUser[user.id!] = created.id
                    try await remember(connection, "user", user.requireID(), created.id)
                    report.usersCreated += 1
                }
            }
        }
        // Enrolments not made yet, in large batches.
        var pending: [(MoodleClient.Enrolment, UUID)] = []
        for person in people {
            guard let userID = moodleUser[person.user.id!], try await link(connection, "enrolment", person.enrolment) == nil else { continue }
            pending.append((MoodleClient.Enrolment(roleID: person.role, userID: userID, courseID: moodleCourse), person.enrolment))
        }
        for start in stride(from: 0, to: pending.count, by: enrolBatch) {
            let slice = Array(pending[start..<min(start + enrolBatch, pending.count)])
            try await client.enrol(slice.map(\.0))
            try await db.transaction { tx in
                for (enrolment, local) in slice {
                    let row = MoodleLink()
                    row.$connection.id = try connection.requireID()
                    row.kind = "enrolment"
                    row.localID = local
                    row.moodleID = enrolment.userID
                    try await row.create(on: tx)
                }
            }
            report.enrolled += slice.count
        }
        return report
    }

    // MARK: completions

    struct PollReport: Sendable, Equatable {
        var checked = 0
        var completed = 0
        /// Courses on Moodle without completion criteria.
        var noCriteria: [String] = []
    }

    /// Reads course completion for the enrolled participants who have not completed yet; a completion counts for the
    /// training's rule, its certificate and the trained-academics list.
    func poll(training: TrainingService) async throws -> PollReport {
        var report = PollReport()
        for courseEvent in try await CourseEvent.query(on: db).with(\.$course).with(\.$event).all() {
            let course = courseEvent.course, event = courseEvent.event
            guard let connection = try await connection(for: course), let courseLink = try await link(connection, "course", course.requireID()) else { continue }
            let client = try self.client(connection)
            let done = Set(try await TrainingCompletion.query(on: db).filter(\.$event.$id == event.requireID()).all().map(\.$user.id))
            registrations: for registration in try await EventRegistration.query(on: db).filter(\.$event.$id == event.requireID())
                .filter(\.$status == .registered).all() where !done.contains(registration.$user.id) {
                guard let user = try await link(connection, "user", registration.$user.id) else { continue }
                report.checked += 1
                do {
                    if try await client.completed(courseID: courseLink.moodleID, userID: user.moodleID) {
                        _ = try await training.complete(event, userID: registration.$user.id, source: "moodle")
                        report.completed += 1
                    }
                } catch MoodleFailure.moodle(let error) where error.errorcode == "nocriteriaset" {
                    report.noCriteria.append(course.title)
                    break registrations
                } catch MoodleFailure.moodle(let error) where error.errorcode == "usernotenroled" {
                    continue
                }
            }
        }
        return report
    }

    static let pollJob = "moodle.poll"
    static let pollInterval: TimeInterval = 30 * 60

    static func registerJobs(_ app: Application) {
        app.jobs.register(pollJob) { job, app in
            let sync = MoodleSync(db: app.db, transport: app.moodleTransport, secret: app.config.secret)
            let training = TrainingService(db: app.db, mailer: app.mailer, catalog: app.catalog, baseURL: app.config.baseURL)
            let report = try await sync.poll(training: training)
            if report.completed > 0 { app.logger.notice("moodle poll: \(report.completed) completions read back") }
            try await JobQueue.scheduleOnce(pollJob, runAt: Date().addingTimeInterval(pollInterval), excluding: job.id, on: app.db)
        }
    }
}

/// Where a course lives on Moodle, once published.
enum MoodleLinks {
    /// The connection that serves a course: its institution's, else the platform-wide one.
    static func connection(for course: Course, on db: any Database) async throws -> MoodleConnection? {
        if let own = try await MoodleConnection.query(on: db).filter(\.$institution.$id == course.$institution.id).first() { return own }
        return try await MoodleConnection.query(on: db).filter(\.$institution.$id == nil).first()
    }

    static func courseURL(_ course: Course, on db: any Database) async throws -> String? {
        guard let connection = try await connection(for: course, on: db),
              let link = try await MoodleLink.query(on: db).filter(\.$connection.$id == connection.requireID()).filter(\.$kind == "course")
                .filter(\.$localID == course.requireID()).first() else { return nil }
        return "\(connection.siteURL)/course/view.php?id=\(link.moodleID)"
    }
}
