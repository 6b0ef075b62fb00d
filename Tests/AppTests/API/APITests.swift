@testable import App
import Fluent
import Testing
import Vapor
import VaporTesting

@Suite("JSON API")
struct APITests {
    func token(_ app: Application, for email: String) async throws -> HTTPHeaders {
        let service = AccountService(db: app.db, mailer: OutboxMailer(), catalog: app.catalog, baseURL: "http://test",
                                     audit: .system, bcryptCost: 4)
        let (_, secret) = try await service.createToken(for: try await app.user(email), name: "test")
        var headers = HTTPHeaders()
        headers.bearerAuthorization = BearerAuthorization(token: secret)
        return headers
    }

    struct Problem: Decodable {
        var type: String
        var title: String
        var status: Int
        var detail: String?
        var errors: [String: String]?
    }

    @Test("/api/v1/me needs a token and answers 401 as a problem document without one")
    func me() async throws {
        try await withInterba { app in
            let anonymous = try await app.testing().sendRequest(.GET, "/api/v1/me")
            #expect(anonymous.status == .unauthorized)
            #expect(anonymous.headers.first(name: .contentType)?.hasPrefix("application/problem+json") == true)
            let problem = try JSONDecoder().decode(Problem.self, from: anonymous.body)
            #expect(problem.status == 401)
            var bad = HTTPHeaders()
            bad.bearerAuthorization = BearerAuthorization(token: "ibt_wrong")
            #expect(try await app.testing().sendRequest(.GET, "/api/v1/me", headers: bad).status == .unauthorized)

            let me = try await app.testing().sendRequest(.GET, "/api/v1/me", headers: try await token(app, for: demo("coordinator.tirana")))
            struct Me: Decodable { var email: String; var roles: [Role] ; struct Role: Decodable { var role: String; var scope: String } }
            let body = try JSONDecoder().decode(Me.self, from: me.body)
            #expect(body.email == demo("coordinator.tirana"))
            #expect(Set(body.roles.map(\.role)) == ["institutional_coordinator", "staff"])
            #expect(body.roles.allSatisfy { $0.scope == "institution" })
        }
    }

    @Test("institutions and areas are listed with localized names")
    func lists() async throws {
        try await withInterba { app in
            struct List<Item: Decodable>: Decodable { var total: Int; var items: [Item] }
            struct Institution: Decodable { var slug: String; var name: String; var countryCode: String }
            struct Area: Decodable { var code: String; var name: String; var activityTypes: [String] }
            let institutions = try JSONDecoder().decode(List<Institution>.self, from: try await app.testing().sendRequest(.GET, "/api/v1/institutions?lang=sq").body)
            #expect(institutions.total == institutions.items.count)
            #expect(institutions.items.first { $0.slug == "tirana" }?.name == "Universiteti i Tiranës")
            let kosovo = try JSONDecoder().decode(List<Institution>.self, from: try await app.testing().sendRequest(.GET, "/api/v1/institutions?country=xk").body)
            #expect(kosovo.items.map(\.countryCode).allSatisfy { $0 == "XK" } && kosovo.total >= 1)
            var headers = HTTPHeaders()
            headers.replaceOrAdd(name: .acceptLanguage, value: "mk")
            let areas = try JSONDecoder().decode(List<Area>.self, from: try await app.testing().sendRequest(.GET, "/api/v1/areas", headers: headers).body)
            #expect(areas.total == 13)
            #expect(areas.items.first?.code == "A1")
            #expect(areas.items.first?.name.unicodeScalars.contains { (0x0400...0x04FF).contains($0.value) } == true, "Macedonian is Cyrillic")
            #expect(areas.items.allSatisfy { !$0.activityTypes.isEmpty })
            let missing = try await app.testing().sendRequest(.GET, "/api/v1/institutions/\(UUID())")
            #expect(missing.status == .notFound)
            #expect(missing.headers.first(name: .contentType)?.hasPrefix("application/problem+json") == true)
        }
    }

    @Test("creating an institution validates input (422 with field errors) and checks permission (403)")
    func createInstitution() async throws {
        try await withInterba { app in
            let national = try await token(app, for: demo("national.al"))
            var headers = national
            headers.contentType = .json
            let bad = try await app.testing().sendRequest(.POST, "/api/v1/institutions", headers: headers,
                body: ByteBuffer(string: #"{"names":{"sq":"Pa emër anglisht"},"shortName":"","countryCode":"AL","city":"Durrës","kind":"public_university"}"#))
            #expect(bad.status == .unprocessableEntity)
            let problem = try JSONDecoder().decode(Problem.self, from: bad.body)
            #expect(problem.errors?["names.en"] != nil)
            #expect(problem.errors?["shortName"] != nil)
            let good = try await app.testing().sendRequest(.POST, "/api/v1/institutions", headers: headers,
                body: ByteBuffer(string: #"{"names":{"en":"Aleksandër Moisiu University of Durrës","sq":"Universiteti Aleksandër Moisiu Durrës"},"shortName":"UAMD","countryCode":"AL","city":"Durrës","kind":"public_university","website":"https://uamd.edu.al"}"#))
            #expect(good.status == .created)
            #expect(good.headers.first(name: .location)?.hasPrefix("/api/v1/institutions/") == true)
            #expect(try await app.institution("uamd").city == "Durrës")
            let foreign = try await app.testing().sendRequest(.POST, "/api/v1/institutions", headers: headers,
                body: ByteBuffer(string: #"{"names":{"en":"Somewhere"},"shortName":"SW","countryCode":"RS","city":"Niš","kind":"public_university"}"#))
            #expect(foreign.status == .forbidden)
            let malformed = try await app.testing().sendRequest(.POST, "/api/v1/institutions", headers: headers, body: ByteBuffer(string: "{not json"))
            #expect(malformed.status == .badRequest)
            #expect(malformed.headers.first(name: .contentType)?.hasPrefix("application/problem+json") == true)
        }
    }

    @Test("the users list is for admins only")
    func users() async throws {
        try await withInterba { app in
            #expect(try await app.testing().sendRequest(.GET, "/api/v1/users", headers: try await token(app, for: demo("coordinator.tirana"))).status == .forbidden)
            let list = try await app.testing().sendRequest(.GET, "/api/v1/users", headers: try await token(app, for: demo("admin")))
            #expect(list.status == .ok)
            struct List: Decodable { var total: Int }
            #expect(try JSONDecoder().decode(List.self, from: list.body).total == (try await User.query(on: app.db).count()))
        }
    }

    @Test("the OpenAPI document describes exactly the registered API routes")
    func openAPIMatchesRoutes() async throws {
        try await withInterba(seed: false) { app in
            let response = try await app.testing().sendRequest(.GET, "/api/openapi.json")
            #expect(response.status == .ok)
            let document = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as! [String: Any]
            #expect((document["openapi"] as? String)?.hasPrefix("3.1") == true)
            let paths = document["paths"] as! [String: [String: Any]]
            var documented = Set<String>()
            for (path, operations) in paths {
                for method in operations.keys where ["get", "post", "put", "patch", "delete"].contains(method) {
                    documented.insert("\(method.uppercased()) \(path)")
                }
            }
            let registered = Set(app.routes.all.compactMap { route -> String? in
                let parts = route.path.map { component -> String in
                    switch component {
                    case .constant(let value): return value
                    case .parameter(let name): return "{\(name)}"
                    case .anything: return "*"
                    case .catchall: return "**"
                    }
                }
                guard parts.first == "api", parts.count > 1, parts[1] == "v1" else { return nil }
                return "\(route.method.rawValue) /" + parts.joined(separator: "/")
            })
            #expect(registered.count >= 6)
            #expect(registered.subtracting(documented).sorted() == [], "routes missing from the OpenAPI document")
            #expect(documented.subtracting(registered).sorted() == [], "documented routes that do not exist")
        }
    }
}

@Suite("Operations")
struct OperationsTests {
    @Test("/healthz and /readyz answer")
    func health() async throws {
        try await withInterba(seed: false) { app in
            #expect(try await app.testing().sendRequest(.GET, "/healthz").body.string.contains("ok"))
            let ready = try await app.testing().sendRequest(.GET, "/readyz")
            #expect(ready.status == .ok)
            #expect(ready.body.string.contains("ready"))
        }
    }

    @Test("admins see the outbox and the audit log; others do not")
    func adminPages() async throws {
        try await withInterba { app in
            let visitor = WebClient(app)
            _ = try await visitor.post("/password/forgot", [("email", demo("staff.tirana"))])
            _ = try await visitor.post("/signin", [("email", demo("staff.tirana")), ("password", "wrong-wrong")])
            let admin = WebClient(app)
            try await admin.signIn(demo("admin"))
            let outbox = try await admin.get("/admin/outbox")
            #expect(outbox.body.string.contains(app.catalog.text("mail.reset.subject", .en).html))
            let audit = try await admin.get("/admin/audit")
            #expect(audit.body.string.contains(app.catalog.text("audit.sign_in_failed", .en).html))
            #expect(audit.body.string.contains(app.catalog.text("audit.password_reset_requested", .en).html))
            let staff = WebClient(app)
            try await staff.signIn(demo("staff.tirana"))
            #expect(try await staff.get("/admin/outbox").status == .forbidden)
            #expect(try await staff.get("/admin/audit").status == .forbidden)
            #expect(try await staff.get("/admin").status == .forbidden)
        }
    }

    @Test("pages need sign-in where they should and send the visitor back after it")
    func signInRedirect() async throws {
        try await withInterba { app in
            let client = WebClient(app)
            let response = try await client.get("/members")
            #expect(response.status == .seeOther)
            let location = try #require(response.headers.first(name: .location))
            #expect(location.hasPrefix("/signin"))
            #expect(try await client.get("/nope").status == .notFound)
            #expect(try await client.get("/nope").body.string.contains(app.catalog.text("error.not_found", .en).html))
        }
    }

    @Test("every page of every role renders in every language without a missing translation")
    func allPagesAllLanguages() async throws {
        try await withInterba(records: true, coordination: true) { app in
            let tirana = try await app.institution("tirana").requireID().uuidString
            let instrument = try #require(try await Instrument.query(on: app.db).first()).requireID().uuidString
            let published = try #require(try await RepositoryRecord.query(on: app.db).filter(\.$publishedVersion != nil)
                .filter(\.$visibility == .public).filter(\.$archivedAt == nil).first()).requireID().uuidString
            let uetDraft = try #require(try await RepositoryRecord.query(on: app.db).filter(\.$publishedVersion == nil)
                .filter(\.$institution.$id == app.institution("uet").requireID()).first()).requireID().uuidString
            let matchingRequest = try #require(try await KnowledgeRequest.query(on: app.db).filter(\.$state == "matching").filter(\.$level == 1).first()).requireID().uuidString
            let evaluatedRequest = try #require(try await KnowledgeRequest.query(on: app.db).filter(\.$state == "evaluated").first()).requireID().uuidString
            let pages: [(String?, [String])] = [
                (nil, ["/", "/signin", "/signup", "/password/forgot", "/institutions", "/institutions/\(tirana)", "/areas",
                       "/repository", "/repository?q=ucenje&area=A4&sort=date", "/repository?q=zzzz&language=mk", "/repository/\(published)",
                       "/repository/\(published)/v/1"]),
                (demo("coordinator.uet"), ["/repository/new", "/repository/mine", "/repository/review", "/repository/\(uetDraft)",
                                           "/repository/\(uetDraft)/edit"]),
                (demo("coordinator.tirana"), ["/requests", "/requests/new", "/requests/\(matchingRequest)", "/experts/manage", "/experts/me"]),
                (demo("staff.tirana"), ["/requests/\(evaluatedRequest)", "/offers"]),
                (demo("expert.tirana"), ["/offers", "/inbox"]),
                (nil, ["/experts", "/experts?area=A4&language=en"]),
                (demo("staff.tirana"), ["/", "/profile"]),
                (demo("coordinator.tirana"), ["/", "/approvals", "/members", "/institutions/\(tirana)/edit", "/institutions/\(tirana)/structure",
                                               "/campaigns", "/campaigns/new", "/instruments", "/instruments/\(instrument)",
                                               "/instruments/\(instrument)/preview?group=students&page=3"]),
                (demo("admin"), ["/admin/jobs", "/admin/matching", "/admin", "/admin/users", "/admin/outbox", "/admin/audit", "/admin/countries", "/admin/reference",
                                 "/admin/reference/areas/A1", "/institutions/new", "/admin/activity-types/coil", "/admin/languages/mk", "/admin/countries/AL", "/admin/regions/WB"]),
            ]
            for (email, paths) in pages {
                let client = WebClient(app)
                if let email { try await client.signIn(email) }
                for locale in UILocale.allCases {
                    _ = try await client.post("/language", [("lang", locale.rawValue)])
                    for path in paths {
                        let page = try await client.get(path)
                        #expect(page.status == .ok, "\(path) as \(email ?? "visitor")")
                        let html = page.body.string
                        #expect(html.contains("<html lang=\"\(locale.rawValue)\">"), "\(path) in \(locale.rawValue)")
                        // A missing catalog entry would show its dotted key.
                        let leaked = html.range(of: #">\s*[a-z_]+\.[a-z_]+(\.[a-z_]+)?\s*<"#, options: .regularExpression)
                        #expect(leaked == nil, "\(path) in \(locale.rawValue) shows a raw key: \(leaked.map { String(html[$0]) } ?? "")")
                    }
                }
            }
        }
    }
}
