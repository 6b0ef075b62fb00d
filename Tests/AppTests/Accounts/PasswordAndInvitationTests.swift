@testable import App
import Fluent
import Testing
import Vapor
import VaporTesting

@Suite("Password reset, invitations, profile and tokens")
struct PasswordAndInvitationTests {
    func path(of link: String) -> String {
        String(link[link.range(of: "/", options: [], range: link.range(of: "://")!.upperBound..<link.endIndex)!.lowerBound...])
    }

    @Test("a reset link sets a new password once; an expired or used link is refused")
    func reset() async throws {
        let mailer = RecordingMailer()
        try await withInterba(mailer: mailer) { app in
            let client = WebClient(app)
            let email = demo("staff.tirana")
            let asked = try await client.post("/password/forgot", [("email", email)])
            #expect(asked.body.string.contains("id=\"reset-sent\""))
            // Unknown addresses get the same answer and no mail.
            _ = try await client.post("/password/forgot", [("email", "nobody@example.org")])
            #expect(!mailer.sent.contains { $0.to == "nobody@example.org" })
            let link = try #require(mailer.link(to: email))
            let resetPath = path(of: link)
            #expect(try await client.get(resetPath).status == .ok)

            let short = try await client.post(resetPath, [("password", "short")])
            #expect(short.status == .unprocessableEntity)
            let done = try await client.post(resetPath, [("password", "a brand new password")])
            #expect(done.status == .seeOther)
            try await client.signIn(email, "a brand new password")

            let again = try await client.post(resetPath, [("password", "another new password")])
            #expect(again.status == .gone)
            #expect(again.body.string.contains(app.catalog.text("link.invalid", .en).html))

            // Expired link.
            _ = try await client.post("/password/forgot", [("email", email)])
            let second = try #require(mailer.link(to: email))
            let stored = try #require(try await OneTimeLink.query(on: app.db).filter(\.$usedAt == nil).first())
            stored.expiresAt = Date().addingTimeInterval(-60)
            try await stored.save(on: app.db)
            let expired = try await client.post(path(of: second), [("password", "yet another password")])
            #expect(expired.status == .gone)
            #expect(try await client.get(path(of: second)).status == .gone)
            let user = try await app.user(email)
            #expect(try Bcrypt.verify("a brand new password", created: user.passwordHash))
        }
    }

    @Test("a coordinator invites a colleague as curator; the link creates an active account with that role")
    func invitation() async throws {
        let mailer = RecordingMailer()
        try await withInterba(mailer: mailer) { app in
            let coordinator = WebClient(app)
            try await coordinator.signIn(demo("coordinator.tirana"))
            let tirana = try await app.institution("tirana").requireID().uuidString
            let sent = try await coordinator.post("/members/invite", [("email", "new.curator@example.org"), ("role", "curator"), ("institution_id", tirana)])
            #expect(sent.status == .seeOther)
            let link = try #require(mailer.link(to: "new.curator@example.org"))

            // A coordinator cannot invite into another institution.
            let uet = try await app.institution("uet").requireID().uuidString
            let foreign = try await coordinator.post("/members/invite", [("email", "x@example.org"), ("role", "staff"), ("institution_id", uet)])
            #expect(foreign.status == .forbidden)

            let invitee = WebClient(app)
            let urlPath = path(of: link)
            #expect(try await invitee.get(urlPath).body.string.contains("new.curator@example.org"))
            let accepted = try await invitee.post(urlPath, [("name", "Nora Kuratore"), ("password", "invited password 1")])
            #expect(accepted.status == .seeOther)
            let user = try await app.user("new.curator@example.org")
            #expect(user.status == .active)
            let roles = Set(try await RoleAssignment.query(on: app.db).filter(\.$user.$id == user.requireID()).all().map(\.role))
            #expect(roles == ["curator", "staff"])
            #expect(try await invitee.post(urlPath, [("name", "Again"), ("password", "invited password 2")]).status == .gone)
        }
    }

    @Test("the profile saves name, languages, interface language and unit; a foreign unit is refused")
    func profile() async throws {
        try await withInterba { app in
            let client = WebClient(app)
            try await client.signIn(demo("staff.tirana"))
            let tiranaID = try await app.institution("tirana").requireID()
            let unit = try #require(try await OrgUnit.query(on: app.db).filter(\.$institution.$id == tiranaID).first())
            let saved = try await client.post("/profile", [("name", "Sara Stafi-Hoxha"), ("preferred_locale", "sq"), ("languages[]", "sq"),
                                                            ("languages[]", "en"), ("org_unit_id", unit.requireID().uuidString)])
            #expect(saved.status == .seeOther)
            let user = try await app.user(demo("staff.tirana"))
            #expect(user.name == "Sara Stafi-Hoxha")
            #expect(user.preferredLocale == "sq")
            #expect(Set(user.languages) == ["sq", "en"])
            #expect(user.$orgUnit.id == unit.id)
            #expect(try await client.get("/profile").body.string.contains("<html lang=\"sq\">"))

            let foreignID = try await app.institution("tuzla").requireID()
            let foreign = try #require(try await OrgUnit.query(on: app.db).filter(\.$institution.$id == foreignID).first())
            let refused = try await client.post("/profile", [("name", "X"), ("org_unit_id", foreign.requireID().uuidString), ("languages[]", "klingon")])
            #expect(refused.status == .unprocessableEntity)
            #expect(refused.body.string.contains(app.catalog.text("validation.org_unit_invalid", .sq).html))
            #expect(refused.body.string.contains(app.catalog.text("validation.language_unknown", .sq).html))
            #expect(try await app.user(demo("staff.tirana")).name == "Sara Stafi-Hoxha")
        }
    }

    @Test("changing the password needs the current one")
    func changePassword() async throws {
        try await withInterba { app in
            let client = WebClient(app)
            try await client.signIn(demo("staff.tirana"))
            let wrong = try await client.post("/profile/password", [("current_password", "not it at all"), ("new_password", "a new password!")])
            #expect(wrong.status == .unprocessableEntity)
            #expect(wrong.body.string.contains(app.catalog.text("validation.password_wrong", .en).html))
            let ok = try await client.post("/profile/password", [("current_password", DemoSeeder.password), ("new_password", "a new password!")])
            #expect(ok.status == .seeOther)
            #expect(try Bcrypt.verify("a new password!", created: try await app.user(demo("staff.tirana")).passwordHash))
        }
    }

    @Test("a personal access token is shown once, stored hashed, works on the API and stops working when revoked")
    func tokens() async throws {
        try await withInterba { app in
            let client = WebClient(app)
            try await client.signIn(demo("staff.tirana"))
            let created = try await client.post("/profile/tokens", [("token_name", "spreadsheet sync")])
            #expect(created.status == .created)
            let html = created.body.string
            let range = try #require(html.range(of: #"ibt_[A-Za-z0-9_-]+"#, options: .regularExpression))
            let secret = String(html[range])
            let stored = try #require(try await PersonalAccessToken.query(on: app.db).filter(\.$name == "spreadsheet sync").first())
            #expect(stored.tokenHash == SecureToken.hash(secret))
            #expect(stored.tokenHash != secret)

            var headers = HTTPHeaders()
            headers.bearerAuthorization = BearerAuthorization(token: secret)
            let me = try await app.testing().sendRequest(.GET, "/api/v1/me", headers: headers)
            #expect(me.status == .ok)
            #expect(me.body.string.contains(demo("staff.tirana")))
            #expect(!(try await client.get("/profile")).body.string.contains(secret), "the secret is not shown again")

            _ = try await client.post("/profile/tokens/\(stored.requireID())/revoke", [])
            let after = try await app.testing().sendRequest(.GET, "/api/v1/me", headers: headers)
            #expect(after.status == .unauthorized)
            #expect(try await AuditEvent.query(on: app.db).filter(\.$kind == .tokenCreated).count() == 1)
        }
    }
}

@Suite("People and roles pages")
struct MemberTests {
    @Test("a coordinator grants and revokes roles at their institution; not at another; staff see no members page")
    func grantAndRevoke() async throws {
        try await withInterba { app in
            let coordinator = WebClient(app)
            try await coordinator.signIn(demo("coordinator.tirana"))
            let staff = try await app.user(demo("staff.tirana"))
            let tirana = try await app.institution("tirana").requireID().uuidString
            let page = try await coordinator.get("/members")
            #expect(page.body.string.contains("data-email=\"\(demo("staff.tirana"))\""))
            let granted = try await coordinator.post("/members/\(staff.requireID())/roles", [("role", "trainer"), ("institution_id", tirana)])
            #expect(granted.status == .seeOther)
            let trainer = try #require(try await RoleAssignment.query(on: app.db).filter(\.$user.$id == staff.requireID()).filter(\.$role == "trainer").first())
            #expect(trainer.scopeID == tirana)

            // Not someone else's member, and not a role above their own.
            let prishtinaStaff = try await app.user(demo("staff.prishtina"))
            let prishtina = try await app.institution("prishtina").requireID().uuidString
            #expect(try await coordinator.post("/members/\(prishtinaStaff.requireID())/roles", [("role", "curator"), ("institution_id", prishtina)]).status == .forbidden)
            #expect(try await coordinator.post("/members/\(staff.requireID())/roles", [("role", "institutional_coordinator"), ("institution_id", tirana)]).status == .forbidden)
            #expect(try await coordinator.post("/members/\(staff.requireID())/roles", [("role", "national_coordinator"), ("institution_id", tirana)]).status == .forbidden)

            let revoked = try await coordinator.post("/members/roles/\(trainer.requireID())/revoke", [("institution_id", tirana)])
            #expect(revoked.status == .seeOther)
            #expect(try await RoleAssignment.find(trainer.requireID(), on: app.db) == nil)
            let events = try await AuditEvent.query(on: app.db).all().map(\.kind)
            #expect(events.contains(.roleGranted) && events.contains(.roleRevoked))

            let member = WebClient(app)
            try await member.signIn(demo("staff.tirana"))
            #expect(try await member.get("/members").status == .forbidden)
            #expect(try await member.get("/approvals").status == .forbidden)
        }
    }

    @Test("a regional coordinator appoints a national coordinator; a national coordinator cannot")
    func nationalAppointment() async throws {
        try await withInterba { app in
            let staff = try await app.user(demo("staff.prishtina"))
            let prishtina = try await app.institution("prishtina").requireID().uuidString
            let national = WebClient(app)
            try await national.signIn(demo("national.al"))
            #expect(try await national.post("/members/\(staff.requireID())/roles", [("role", "national_coordinator"), ("institution_id", prishtina)]).status == .forbidden)
            let regional = WebClient(app)
            try await regional.signIn(demo("regional"))
            #expect(try await regional.post("/members/\(staff.requireID())/roles", [("role", "national_coordinator"), ("institution_id", prishtina)]).status == .seeOther)
            let grant = try #require(try await RoleAssignment.query(on: app.db).filter(\.$user.$id == staff.requireID()).filter(\.$role == "national_coordinator").first())
            #expect(grant.scopeID == "XK")
        }
    }
}
