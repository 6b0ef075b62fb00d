import Fluent
import Vapor

/// Platform administration: people, outgoing mail, the audit log, countries.
struct AdminRoutes: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let admin = routes.grouped(User.redirectMiddleware(path: "/signin")).grouped("admin")
        admin.get(use: index)
        admin.get("users", use: users)
        admin.post("users", ":userID", "status", use: setStatus)
        admin.get("outbox", use: outbox)
        admin.get("audit", use: audit)
        admin.get("jobs", use: jobs)
        admin.get("matching", use: matching)
        admin.post("matching", use: saveMatching)
        admin.post("jobs", ":jobID", "retry", use: retryJob)
        admin.get("countries", use: countries)
        admin.post("countries", use: addCountry)
    }

    func requireAdmin(_ req: Request) async throws -> Actor {
        let actor = try await req.requireActor()
        guard actor.canAdministerPlatform else { throw Forbidden() }
        return actor
    }

    struct IndexView: Encodable {
        var users: Int
        var pending: Int
        var institutions: Int
        var outbox: Int
        var auditEvents: Int
    }

    func index(req: Request) async throws -> Response {
        _ = try await requireAdmin(req)
        let view = IndexView(
            users: try await User.query(on: req.db).count(),
            pending: try await User.query(on: req.db).filter(\.$status == .pending).count(),
            institutions: try await Institution.query(on: req.db).count(),
            outbox: try await OutboxMessage.query(on: req.db).count(),
            auditEvents: try await AuditEvent.query(on: req.db).count())
        return try await req.page("admin/index", titleKey: "admin.title", view)
    }

    struct UsersView: Encodable {
        struct Row: Encodable {
            var id: String
            var name: String
            var email: String
            var institution: String
            var institutionID: String?
            var status: String
            var active: Bool
            var roles: [String]
        }
        var rows: [Row]
        var query: String
        var total: Int
    }

    func users(req: Request) async throws -> Response {
        _ = try await requireAdmin(req)
        let query = (req.query[String.self, at: "q"] ?? "").trimmingCharacters(in: .whitespaces).lowercased()
        var builder = User.query(on: req.db).with(\.$institution).with(\.$roles).sort(\.$email)
        if !query.isEmpty {
            builder = builder.group(.or) { $0.filter(\.$email ~~ query).filter(\.$name ~~ query) }
        }
        let users = try await builder.limit(500).all()
        var rows: [UsersView.Row] = []
        for user in users {
            rows.append(.init(
                id: user.id!.uuidString, name: user.name, email: user.email,
                institution: user.institution.map { $0.shortName } ?? "",
                institutionID: user.$institution.id?.uuidString,
                status: req.t("status.\(user.status.rawValue)"), active: user.status == .active,
                roles: try await req.roleLabels(user.roles.compactMap(\.grant))))
        }
        return try await req.page("admin/users", titleKey: "admin.users", UsersView(rows: rows, query: query, total: rows.count))
    }

    func setStatus(req: Request) async throws -> Response {
        struct Input: Content { var status: String }
        let actor = try await requireAdmin(req)
        guard let userID = req.parameters.get("userID", as: UUID.self), let user = try await User.find(userID, on: req.db) else {
            throw Abort(.notFound)
        }
        let input = try req.content.decode(Input.self)
        guard let status = User.Status(rawValue: input.status), [.active, .disabled].contains(status) else { throw Abort(.badRequest) }
        guard userID != actor.userID else { throw Forbidden() }
        user.status = status
        try await user.save(on: req.db)
        try await req.auditContext.record(status == .active ? .accountApproved : .accountRejected, "\(user.email) set \(status.rawValue)", on: req.db)
        req.flash("success", "admin.status_saved", user.email)
        return req.seeOther("/admin/users")
    }

    struct OutboxView: Encodable {
        struct Row: Encodable {
            var recipient: String
            var subject: String
            var body: String
            var status: String
            var error: String?
            var created: String
        }
        var rows: [Row]
        var smtpConfigured: Bool
    }

    func outbox(req: Request) async throws -> Response {
        _ = try await requireAdmin(req)
        let rows = try await OutboxMessage.query(on: req.db).sort(\.$createdAt, .descending).limit(200).all().map {
            OutboxView.Row(recipient: $0.recipient, subject: $0.subject, body: $0.body, status: req.t("outbox.status.\($0.status.rawValue)"),
                           error: $0.error, created: req.formatDate($0.createdAt, time: true))
        }
        return try await req.page("admin/outbox", titleKey: "admin.outbox", OutboxView(rows: rows, smtpConfigured: req.config.smtp != nil))
    }

    struct JobsView: Encodable {
        struct Row: Encodable {
            var id: String
            var kind: String
            var state: String
            var stateCode: String
            var attempts: String
            var runAt: String
            var lastError: String?
            var leaseOwner: String?
            var canRetry: Bool
        }
        var rows: [Row]
        var counts: [Choice]
    }

    /// Background jobs: what is queued, running, done and failed, with the last error; failed jobs can be retried.
    func jobs(req: Request) async throws -> Response {
        _ = try await requireAdmin(req)
        let rows = try await Job.query(on: req.db).sort(\.$updatedAt, .descending).limit(200).all().map { job in
            JobsView.Row(id: job.id!.uuidString, kind: job.kind, state: req.t("jobs.state.\(job.state.rawValue)"), stateCode: job.state.rawValue,
                         attempts: "\(job.attempts) / \(job.maxAttempts)", runAt: req.formatDate(job.runAt, time: true),
                         lastError: job.lastError, leaseOwner: job.state == .running ? job.leaseOwner : nil, canRetry: job.state == .failed)
        }
        var counts: [Choice] = []
        for state in Job.State.allCases {
            let n = try await Job.query(on: req.db).filter(\.$state == state).count()
            counts.append(Choice(value: String(n), label: req.t("jobs.state.\(state.rawValue)"), selected: state == .failed && n > 0))
        }
        return try await req.page("admin/jobs", titleKey: "admin.jobs", JobsView(rows: rows, counts: counts))
    }

    func retryJob(req: Request) async throws -> Response {
        _ = try await requireAdmin(req)
        guard let id = req.parameters.get("jobID", as: UUID.self), let job = try await Job.find(id, on: req.db) else { throw Abort(.notFound) }
        if job.state == .failed {
            job.state = .queued
            job.runAt = Date()
            job.attempts = 0
            job.finishedAt = nil
            try await job.save(on: req.db)
            req.flash("success", "jobs.retried")
        }
        return req.seeOther("/admin/jobs")
    }

    static let weightFields = ["topic", "language", "format", "availability", "quality", "proximity", "load", "threshold", "nearTie"]

    struct MatchingView: Encodable {
        struct Field: Encodable { var name: String; var label: String; var value: String; var invalid: Bool }
        var form: FormState
        var weights: [Field]
    }

    func matchingView(_ req: Request, _ values: [String: String], errors: [(String, String)] = []) -> MatchingView {
        var form = FormState(values: values)
        for (field, key) in errors { form.add(field, req.t(key)) }
        return MatchingView(form: form, weights: Self.weightFields.map {
            .init(name: $0, label: req.t("admin.matching.field.\($0)"), value: values[$0] ?? "", invalid: form.errors[$0] != nil)
        })
    }

    /// The match weights, the offer threshold and the escalation days (DESIGN.md 3.3), for admins.
    func matching(req: Request) async throws -> Response {
        _ = try await requireAdmin(req)
        let settings = try await CoordinationSettings.load(on: req.db)
        let w = settings.weights
        var values: [String: String] = ["offerDays": String(settings.offerDays), "triageWorkingDays": String(settings.triageWorkingDays),
                                        "matchingWorkingDays": String(settings.matchingWorkingDays)]
        for (key, value) in zip(Self.weightFields, [w.topic, w.language, w.format, w.availability, w.quality, w.proximity, w.load, w.threshold, w.nearTie]) {
            values[key] = String(value)
        }
        return try await req.page("admin/matching", titleKey: "admin.matching", matchingView(req, values))
    }

    func saveMatching(req: Request) async throws -> Response {
        _ = try await requireAdmin(req)
        let pairs = Responding.formPairs(req.body.string ?? "")
        let values = Dictionary(pairs, uniquingKeysWith: { a, _ in a })
        var errors: [(String, String)] = []
        var numbers: [String: Double] = [:]
        for key in Self.weightFields {
            guard let value = Double((values[key] ?? "").replacingOccurrences(of: ",", with: ".")), value >= 0, value <= 1 else {
                errors.append((key, "admin.matching.error.weight")); continue
            }
            numbers[key] = value
        }
        var days: [String: Int] = [:]
        for key in ["offerDays", "triageWorkingDays", "matchingWorkingDays"] {
            guard let value = Int(values[key] ?? ""), value >= 1, value <= 90 else { errors.append((key, "admin.matching.error.days")); continue }
            days[key] = value
        }
        if !errors.isEmpty {
            return try await req.page("admin/matching", titleKey: "admin.matching", matchingView(req, values, errors: errors), status: .unprocessableEntity)
        }
        var settings = CoordinationSettings()
        settings.weights = MatchWeights(topic: numbers["topic"]!, language: numbers["language"]!, format: numbers["format"]!,
                                        availability: numbers["availability"]!, quality: numbers["quality"]!, proximity: numbers["proximity"]!,
                                        load: numbers["load"]!, threshold: numbers["threshold"]!, nearTie: numbers["nearTie"]!)
        settings.offerDays = days["offerDays"]!
        settings.triageWorkingDays = days["triageWorkingDays"]!
        settings.matchingWorkingDays = days["matchingWorkingDays"]!
        try await settings.save(on: req.db)
        req.flash("success", "admin.matching.saved")
        return req.seeOther("/admin/matching")
    }

    struct AuditView: Encodable {
        struct Row: Encodable {
            var kind: String
            var actor: String
            var subject: String
            var ip: String
            var created: String
        }
        var rows: [Row]
    }

    func audit(req: Request) async throws -> Response {
        _ = try await requireAdmin(req)
        let rows = try await AuditEvent.query(on: req.db).sort(\.$createdAt, .descending).limit(300).all().map {
            AuditView.Row(kind: req.t("audit.\($0.kind.rawValue)"), actor: $0.actorEmail ?? "", subject: $0.subject, ip: $0.ip ?? "",
                          created: req.formatDate($0.createdAt, time: true))
        }
        return try await req.page("admin/audit", titleKey: "admin.audit", AuditView(rows: rows))
    }

    struct CountriesView: Encodable {
        struct Row: Encodable {
            var code: String
            var name: String
            var region: String
        }
        var rows: [Row]
        var regions: [Choice]
        var form: FormState
    }

    func countriesView(_ req: Request, form: FormState = FormState()) async throws -> CountriesView {
        let regions = try await Region.query(on: req.db).sort(\.$code).all()
        let regionNames = Dictionary(uniqueKeysWithValues: regions.map { ($0.code, localized($0.names, req.locale)) })
        return CountriesView(
            rows: try await Country.query(on: req.db).sort(\.$code).all().map {
                .init(code: $0.code, name: localized($0.names, req.locale), region: regionNames[$0.regionCode] ?? $0.regionCode)
            },
            regions: regions.map { .init(value: $0.code, label: localized($0.names, req.locale), selected: $0.code == form.values["region_code"]) },
            form: form)
    }

    func countries(req: Request) async throws -> Response {
        _ = try await requireAdmin(req)
        return try await req.page("admin/countries", titleKey: "admin.countries", countriesView(req))
    }

    func addCountry(req: Request) async throws -> Response {
        struct Input: Content { var code: String?; var region_code: String?; var name_en: String? }
        _ = try await requireAdmin(req)
        let input = try req.content.decode(Input.self)
        let code = (input.code ?? "").trimmingCharacters(in: .whitespaces).uppercased()
        var form = FormState(values: ["code": input.code ?? "", "region_code": input.region_code ?? "", "name_en": input.name_en ?? ""])
        if code.count != 2 || !code.allSatisfy({ $0.isASCII && $0.isLetter }) { form.add("code", req.t("validation.iso3166")) }
        else if try await Country.query(on: req.db).filter(\.$code == code).first() != nil { form.add("code", req.t("validation.code_taken")) }
        if try await Region.query(on: req.db).filter(\.$code == (input.region_code ?? "")).first() == nil { form.add("region_code", req.t("validation.region_required")) }
        let name = (input.name_en ?? "").trimmingCharacters(in: .whitespaces)
        if name.isEmpty { form.add("name_en", req.t("validation.name_required")) }
        guard !form.hasErrors else {
            return try await req.page("admin/countries", titleKey: "admin.countries", countriesView(req, form: form), status: .unprocessableEntity)
        }
        try await Country(code: code, regionCode: input.region_code!, names: ["en": name]).create(on: req.db)
        try await req.auditContext.record(.organisationChanged, "added country \(code)", on: req.db)
        req.flash("success", "admin.country_added", code)
        return req.seeOther("/admin/countries")
    }
}
