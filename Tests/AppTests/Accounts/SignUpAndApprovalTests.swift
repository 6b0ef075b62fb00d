@testable import App
import Fluent
import Testing
import Vapor
import VaporTesting

@Suite("Sign-up, approval and sign-in")
struct SignUpAndApprovalTests {
    func signUpFields(_ app: Application, name: String = "Lirie Gashi", email: String = "lirie@example.org",
                      password: String = "correct horse battery", institution: String = "tirana") async throws -> [(String, String)] {
        let id = try await app.institution(institution).requireID().uuidString
        return [("name", name), ("email", email), ("password", password), ("institution_id", id)]
    }

    @Test("sign-up creates a pending account that the institution's coordinator approves; then the person signs in")
    func fullFlow() async throws {
        let mailer = RecordingMailer()
        try await withInterba(mailer: mailer) { app in
            let visitor = WebClient(app)
            let response = try await visitor.post("/signup", try await signUpFields(app))
            #expect(response.status == .ok)
            #expect(response.body.string.contains("id=\"signup-done\""))
            let user = try await app.user("lirie@example.org")
            #expect(user.status == .pending)
            #expect(user.passwordHash.hasPrefix("$2"))
            #expect(user.passwordHash != "correct horse battery")
            #expect(mailer.sent.contains { $0.to == demo("coordinator.tirana") && $0.body.contains("lirie@example.org") })

            // Not before approval.
            let early = try await visitor.post("/signin", [("email", "lirie@example.org"), ("password", "correct horse battery")])
            #expect(early.status == .unauthorized)
            #expect(early.body.string.contains(app.catalog.text("signin.error.pending", .en).html))

            // Another institution's coordinator neither sees nor decides the request.
            let other = WebClient(app)
            try await other.signIn(demo("coordinator.prishtina"))
            #expect(!(try await other.get("/approvals")).body.string.contains("lirie@example.org"))
            let forbidden = try await other.post("/approvals/\(user.requireID())", [("decision", "approve")])
            #expect(forbidden.status == .forbidden)
            #expect(try await app.user("lirie@example.org").status == .pending)

            let coordinator = WebClient(app)
            try await coordinator.signIn(demo("coordinator.tirana"))
            let list = try await coordinator.get("/approvals")
            #expect(list.body.string.contains("data-email=\"lirie@example.org\""))
            let approved = try await coordinator.post("/approvals/\(user.requireID())", [("decision", "approve")])
            #expect(approved.status == .seeOther)
            let active = try await app.user("lirie@example.org")
            #expect(active.status == .active)
            let roles = try await RoleAssignment.query(on: app.db).filter(\.$user.$id == active.requireID()).all()
            #expect(roles.map(\.role) == ["staff"])
            #expect(roles.first?.scopeID == (try await app.institution("tirana").requireID().uuidString))
            #expect(mailer.sent.contains { $0.to == "lirie@example.org" && $0.subject == app.catalog.text("mail.approved.subject", .en) })

            try await visitor.signIn("lirie@example.org", "correct horse battery")
            let home = try await visitor.get("/")
            #expect(home.body.string.contains("id=\"current-user\">Lirie Gashi<"))
            #expect(home.body.string.contains("id=\"signout\""))
            let kinds = try await AuditEvent.query(on: app.db).all().map(\.kind)
            #expect(kinds.contains(.signUp) && kinds.contains(.accountApproved) && kinds.contains(.signIn))
        }
    }

    @Test("bad sign-up input is rejected field by field, keeps what was typed and changes nothing")
    func badInput() async throws {
        try await withInterba { app in
            let client = WebClient(app)
            let before = try await User.query(on: app.db).count()
            let malformed = try await client.post("/signup", try await signUpFields(app, name: "Ana", email: "ana@@example", password: "short"))
            #expect(malformed.status == .unprocessableEntity)
            let html = malformed.body.string
            #expect(html.contains(app.catalog.text("validation.email_invalid", .en).html))
            #expect(html.contains(app.catalog.text("validation.password_short", .en).html))
            #expect(html.contains("value=\"ana@@example\""))
            #expect(html.contains("value=\"Ana\""))
            #expect(html.contains("id=\"form-errors\""))
            #expect(!html.contains("value=\"short\""), "passwords are never echoed")

            let duplicate = try await client.post("/signup", try await signUpFields(app, email: demo("STAFF.tirana")))
            #expect(duplicate.status == .unprocessableEntity)
            #expect(duplicate.body.string.contains(app.catalog.text("validation.email_taken", .en).html))

            var noInstitution = try await signUpFields(app)
            noInstitution[3].1 = "not-a-uuid"
            let missing = try await client.post("/signup", noInstitution)
            #expect(missing.body.string.contains(app.catalog.text("validation.institution_required", .en).html))
            #expect(try await User.query(on: app.db).count() == before)
        }
    }

    @Test("error messages come in the visitor's language")
    func translatedErrors() async throws {
        try await withInterba { app in
            let client = WebClient(app)
            _ = try await client.post("/language", [("lang", "sq")])
            let response = try await client.post("/signup", try await signUpFields(app, email: "x"))
            #expect(response.body.string.contains(app.catalog.text("validation.email_invalid", .sq).html))
            #expect(app.catalog.text("validation.email_invalid", .sq) != app.catalog.text("validation.email_invalid", .en))
        }
    }

    @Test("SQL and HTML metacharacters are stored verbatim and shown escaped")
    func metacharacters() async throws {
        try await withInterba { app in
            let nasty = "Robert'); DROP TABLE users;-- <script>alert(\"x\")</script> & Ë"
            let client = WebClient(app)
            _ = try await client.post("/signup", try await signUpFields(app, name: nasty, email: "bobby@example.org"))
            let stored = try await app.user("bobby@example.org")
            #expect(stored.name == nasty)
            let coordinator = WebClient(app)
            try await coordinator.signIn(demo("coordinator.tirana"))
            let page = try await coordinator.get("/approvals").body.string
            #expect(!page.contains("<script>alert"))
            #expect(page.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Ë"))
            #expect(try await User.query(on: app.db).count() > 10, "the users table is still there")

            // A failed sign-in keeps such an email verbatim in the form, escaped.
            let failed = try await client.post("/signin", [("email", "a\"><b>@x.org"), ("password", "whatever-long")])
            #expect(failed.body.string.contains("value=\"a&quot;&gt;&lt;b&gt;@x.org\""))
        }
    }

    @Test("a failed sign-in says so and keeps the email; five failures lock the account")
    func lockout() async throws {
        try await withInterba { app in
            let client = WebClient(app)
            let email = demo("staff.tirana")
            let first = try await client.post("/signin", [("email", email), ("password", "wrong password")])
            #expect(first.status == .unauthorized)
            #expect(first.body.string.contains(app.catalog.text("signin.error.invalid", .en).html))
            #expect(first.body.string.contains("value=\"\(email)\""))
            for _ in 0..<3 { _ = try await client.post("/signin", [("email", email), ("password", "wrong password")]) }
            let fifth = try await client.post("/signin", [("email", email), ("password", "wrong password")])
            #expect(fifth.body.string.contains(app.catalog.text("signin.error.locked", .en).html))
            // Even the right password is refused while locked.
            let right = try await client.post("/signin", [("email", email), ("password", DemoSeeder.password)])
            #expect(right.status == .unauthorized)
            #expect(try await app.user(email).lockedUntil != nil)
            #expect(try await AuditEvent.query(on: app.db).filter(\.$kind == .signInLocked).count() >= 1)
        }
    }

    @Test("many failures from one address are throttled with 429")
    func addressThrottle() async throws {
        try await withInterba { app in
            let client = WebClient(app)
            for index in 0..<AccountRules.maxFailuresPerAddress {
                _ = try await client.post("/signin", [("email", "nobody\(index)@example.org"), ("password", "nope-nope-nope")])
            }
            let blocked = try await client.post("/signin", [("email", demo("admin")), ("password", DemoSeeder.password)])
            #expect(blocked.status == .tooManyRequests)
        }
    }

    @Test("a state-changing form without the CSRF token is rejected and changes nothing")
    func csrf() async throws {
        try await withInterba { app in
            let client = WebClient(app)
            let before = try await User.query(on: app.db).count()
            let response = try await client.post("/signup", try await signUpFields(app, email: "csrf@example.org"), csrf: false)
            #expect(response.status == .forbidden)
            #expect(response.body.string.contains(app.catalog.text("error.csrf", .en).html))
            #expect(try await User.query(on: app.db).count() == before)

            try await client.signIn(demo("staff.tirana"))
            let rename = try await client.post("/profile", [("name", "Changed")], csrf: false)
            #expect(rename.status == .forbidden)
            #expect(try await app.user(demo("staff.tirana")).name == "Sara Stafi")
        }
    }

    @Test("an oversized request body is refused with 413")
    func oversized() async throws {
        try await withInterba(seed: false) { app in
            var headers = HTTPHeaders()
            headers.contentType = .urlEncodedForm
            let body = ByteBuffer(string: "name=" + String(repeating: "a", count: 3 * 1024 * 1024))
            let response = try await app.testing().sendRequest(.POST, "/signup", headers: headers, body: body)
            #expect(response.status == .payloadTooLarge)
            #expect(try await User.query(on: app.db).count() == 0)
        }
    }

    @Test("the session cookie is HttpOnly and SameSite=Lax; sign-out ends the session")
    func cookies() async throws {
        try await withInterba { app in
            let client = WebClient(app)
            let response = try await client.signIn(demo("staff.tirana"))
            let cookie = try #require(response.headers[.setCookie].first { $0.hasPrefix("interba_session=") })
            #expect(cookie.contains("HttpOnly"))
            #expect(cookie.lowercased().contains("samesite=lax"))
            #expect(!cookie.contains("Secure"), "not Secure on an http base URL")
            #expect(try await client.get("/profile").status == .ok)
            _ = try await client.post("/signout", [])
            let after = try await client.get("/profile")
            #expect(after.status == .seeOther)
            #expect(after.headers.first(name: .location)?.hasPrefix("/signin") == true)
        }
    }

    @Test("a sign-in never redirects off-site")
    func safeNext() {
        #expect(AccountRoutes.safeNext("/profile") == "/profile")
        #expect(AccountRoutes.safeNext("//evil.example") == "/")
        #expect(AccountRoutes.safeNext("https://evil.example") == "/")
        #expect(AccountRoutes.safeNext("/\\evil") == "/")
        #expect(AccountRoutes.safeNext(nil) == "/")
    }

    @Test("email addresses are checked for a sane shape")
    func emailShape() {
        for good in ["a@b.co", "first.last+tag@uni-tirana.edu.al", "x@sub.domain.org"] { #expect(AccountRules.isValidEmail(good), "\(good)") }
        for bad in ["", "a", "a@b", "a@@b.org", "a b@c.org", "@c.org", "a@.org", "a@b.c", "<a>@b.org", "a@-b.org"] {
            #expect(!AccountRules.isValidEmail(bad), "\(bad)")
        }
    }
}
