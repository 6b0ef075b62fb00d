import Fluent
import Vapor

extension Request {
    var moodle: MoodleSync { MoodleSync(db: db, transport: application.moodleTransport, secret: application.config.secret) }
}

/// Moodle connections (site address + web-service token per institution, or platform-wide), "test connection", and
/// publishing a course with its events' participants; Moodle's errors are explained in plain words.
struct MoodleRoutes: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let signedIn = routes.grouped(User.redirectMiddleware(path: "/signin"))
        signedIn.get("moodle", use: index)
        signedIn.post("moodle", "connections", use: save)
        signedIn.post("moodle", "connections", ":id", "test", use: test)
        signedIn.post("courses", ":id", "moodle", use: publish)
        signedIn.post("courses", ":id", "moodle", "poll", use: poll)
    }

    struct ConnectionRow: Encodable {
        var id: String
        var scope: String
        var siteURL: String
        var tokenHint: String
        var categoryID: Int
        var siteName: String?
        var release: String?
        var missing: [String]
        var checked: String?
    }

    struct IndexView: Encodable {
        var connections: [ConnectionRow]
        var scopes: [Choice]
        var form: FormState
        var required: [String]
    }

    func scopes(_ req: Request, _ actor: Actor) async throws -> [Choice] {
        var choices: [Choice] = []
        if actor.isAdmin { choices.append(Choice(value: "", label: req.t("moodle.platform_wide"), selected: false)) }
        for institution in try await Institution.query(on: req.db).all().sorted(by: { $0.shortName < $1.shortName })
        where actor.canManage(InstitutionPlace(institutionID: institution.id!, countryCode: institution.countryCode)) {
            choices.append(Choice(value: institution.id!.uuidString, label: localized(institution.names, req.locale),
                                  selected: institution.id == actor.home?.institutionID))
        }
        return choices
    }

    func view(_ req: Request, _ actor: Actor, form: FormState) async throws -> IndexView {
        var rows: [ConnectionRow] = []
        let institutions = try await Institution.query(on: req.db).all()
        for connection in try await MoodleConnection.query(on: req.db).all() where try await req.moodle.canManage(connection, actor) {
            rows.append(.init(id: connection.id!.uuidString,
                              scope: connection.$institution.id.flatMap { id in institutions.first { $0.id == id } }.map { localized($0.names, req.locale) } ?? req.t("moodle.platform_wide"),
                              siteURL: connection.siteURL, tokenHint: "…" + connection.tokenHint, categoryID: connection.categoryID,
                              siteName: connection.siteName, release: connection.siteRelease, missing: connection.missingFunctions,
                              checked: connection.checkedAt.map { req.formatDate($0, time: true) }))
        }
        return IndexView(connections: rows, scopes: try await scopes(req, actor), form: form, required: MoodleClient.requiredFunctions)
    }

    func index(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        guard actor.isCoordinator else { throw Forbidden() }
        return try await req.page("moodle/index", titleKey: "moodle.title", try await view(req, actor, form: FormState(values: ["category_id": "1"])))
    }

    func save(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        struct Input: Content { var scope: String?; var site_url: String?; var token: String?; var category_id: String? }
        let input = (try? req.content.decode(Input.self)) ?? Input()
        do {
            let connection = try await req.moodle.save(institutionID: UUID(uuidString: input.scope ?? ""), siteURL: input.site_url ?? "",
                                                       token: input.token ?? "", categoryID: input.category_id ?? "", by: actor)
            req.flash("success", "moodle.saved", connection.siteURL)
            return req.seeOther("/moodle")
        } catch let errors as FieldErrors {
            // The token is never sent back to the page.
            var form = FormState(values: ["site_url": input.site_url ?? "", "category_id": input.category_id ?? ""])
            for (field, key) in errors.fields { form.add(field, req.t(key)) }
            return try await req.page("moodle/index", titleKey: "moodle.title", try await view(req, actor, form: form), status: .unprocessableEntity)
        }
    }

    func test(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        guard let id = req.parameters.get("id", as: UUID.self), let connection = try await MoodleConnection.find(id, on: req.db),
              try await req.moodle.canManage(connection, actor) else { throw Abort(.notFound) }
        do {
            let info = try await req.moodle.test(connection)
            if connection.missingFunctions.isEmpty {
                req.flash("success", "moodle.test_ok", info.sitename, info.release ?? "")
            } else {
                req.flash("error", "moodle.test_missing", info.sitename, connection.missingFunctions.joined(separator: ", "))
            }
        } catch let failure as MoodleFailure {
            req.flash("error", failure.catalogKey, failure.detail)
        }
        return req.seeOther("/moodle")
    }

    func publish(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        guard let id = req.parameters.get("id", as: UUID.self), let course = try await Course.find(id, on: req.db) else { throw Abort(.notFound) }
        guard try await req.courses.canEdit(course, actor) else { throw Forbidden() }
        let pairs = Responding.formPairs(req.body.string ?? "")
        var events: [TrainingEvent] = []
        for value in pairs.filter({ $0.0 == "events[]" }).map(\.1) {
            guard let eventID = UUID(uuidString: value), let event = try await TrainingEvent.find(eventID, on: req.db),
                  event.$institution.id == course.$institution.id else { continue }
            events.append(event)
        }
        guard try await req.moodle.connection(for: course) != nil else {
            req.flash("error", "moodle.no_connection")
            return req.seeOther("/courses/\(id.uuidString)/build")
        }
        do {
            let sections = try await req.courses.sections(course)
            // Section 0 holds the overview; the course's sections are 1…n (a real Moodle 4.5.6 import showed this).
            let report = try await req.moodle.publish(course, events: events, html: Markdown.html(course.summary), sections: sections.count)
            req.flash("success", report.courseCreated ? "moodle.published_new" : "moodle.published_update",
                      String(report.usersCreated), String(report.usersFound), String(report.enrolled))
            for mismatch in report.nameMismatches { req.flash("info", "moodle.name_mismatch", mismatch) }
        } catch let failure as MoodleFailure {
            req.flash("error", failure.catalogKey, failure.detail)
        }
        return req.seeOther("/courses/\(id.uuidString)/build")
    }

    func poll(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        guard let id = req.parameters.get("id", as: UUID.self), let course = try await Course.find(id, on: req.db) else { throw Abort(.notFound) }
        guard try await req.courses.canEdit(course, actor) else { throw Forbidden() }
        do {
            let report = try await req.moodle.poll(training: req.training)
            req.flash("success", "moodle.polled", String(report.checked), String(report.completed))
            for title in Set(report.noCriteria) { req.flash("info", "moodle.error.nocriteriaset", title) }
        } catch let failure as MoodleFailure {
            req.flash("error", failure.catalogKey, failure.detail)
        }
        return req.seeOther("/courses/\(id.uuidString)/build")
    }
}

/// `interba fake-moodle [--port 8081] [--token fake-token]`: the fake Moodle web-service server of the test suite, for
/// demos and the sync benchmark. Loopback only.
struct FakeMoodleCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Option(name: "port", help: "Port on 127.0.0.1 (default 8081)") var port: Int?
        @Option(name: "token", help: "The web-service token it accepts (default fake-token)") var token: String?
    }

    var help: String { "Serves a fake Moodle web-service endpoint on 127.0.0.1 (for demos and benchmarks)." }

    func run(using context: CommandContext, signature: Signature) async throws {
        let port = signature.port ?? 8081
        let fake = FakeMoodle(siteURL: "http://127.0.0.1:\(port)", token: signature.token ?? "fake-token")
        let server = try await fake.serve(port: port)
        context.console.print("fake Moodle on http://127.0.0.1:\(port) (token: \(fake.token)); stop it with Ctrl-C")
        // Runs until the process is stopped (SIGINT/SIGTERM end it).
        while !server.didShutdown { try await Task.sleep(for: .seconds(3600)) }
    }
}
