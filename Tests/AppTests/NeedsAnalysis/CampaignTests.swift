@testable import App
import Fluent
import Testing
import Vapor
import VaporTesting

/// Helpers shared by the campaign tests.
enum CampaignFixture {
    static func create(_ client: WebClient, _ app: Application, institution: String = "tirana", title: String = "IaH 2026",
                       groups: [String] = ["academic_staff", "students"], minimum: String = "2") async throws -> Campaign {
        let id = try await app.institution(institution).requireID().uuidString
        let instrument = try #require(try await Instrument.query(on: app.db).first())
        var fields: [(String, String)] = [("title", title), ("instrument_id", try instrument.requireID().uuidString),
                                          ("scope", "institution:\(id)"), ("opens_on", "2020-01-01"), ("closes_on", "2099-12-31"),
                                          ("minimum_group_size", minimum)]
        for group in groups { fields.append(("groups[]", group)) }
        let response = try await client.post("/campaigns", fields)
        #expect(response.status == .seeOther, "campaign creation failed: \(response.status)")
        return try #require(try await Campaign.query(on: app.db).filter(\.$title == title).first())
    }

    /// Fields that answer every item of a page validly (importance 5, performance `performance`).
    static func answers(for section: InstrumentDefinition.Section, performance: Int = 2) -> [(String, String)] {
        var fields: [(String, String)] = []
        for item in section.items {
            switch item.kind {
            case .importancePerformance: fields += [("i:\(item.code)", "5"), ("p:\(item.code)", String(performance))]
            case .likert: fields.append(("v:\(item.code)", "3"))
            case .singleChoice: fields.append(("v:\(item.code)", item.options!.first!.code))
            case .multipleChoice: fields.append(("m:\(item.code)", item.options!.first!.code))
            case .ranking: for (index, option) in item.options!.enumerated() { fields.append(("r:\(item.code):\(option.code)", String(index + 1))) }
            case .number: fields.append(("v:\(item.code)", "4"))
            case .freeText: fields.append(("v:\(item.code)", "Erasmus+ CBHE, 2019–2022"))
            }
        }
        return fields
    }

    /// Answers every page through the respondent's form and submits.
    static func respond(_ app: Application, token: String, group: String, performance: Int = 2) async throws -> TestingHTTPResponse {
        let client = WebClient(app)
        let instrument = try #require(try await Instrument.query(on: app.db).first())
        for (index, section) in instrument.definition.sections(for: group).enumerated() {
            let saved = try await client.post("/respond/\(token)/page/\(index + 1)", answers(for: section, performance: performance) + [("action", "next")])
            #expect(saved.status == .seeOther, "page \(index + 1) was refused: \(saved.status)")
        }
        return try await client.post("/respond/\(token)/submit", [])
    }

    static func invite(_ app: Application, _ campaign: Campaign, group: String, email: String) async throws -> String {
        let service = CampaignService(db: app.db, mailer: OutboxMailer(), catalog: app.catalog, baseURL: "http://test", audit: .system)
        let admin = Actor(userID: UUID(), grants: [RoleGrant(role: .admin, scopeID: nil)], home: nil)
        return try await service.invite(email: email, group: group, institutionID: campaign.targetInstitutions[0], to: campaign, by: admin, locale: .en)
    }
}

@Suite("Needs-analysis campaigns")
struct CampaignTests {
    @Test("a coordinator creates a campaign for their institution; bad input is shown and nothing is created")
    func create() async throws {
        try await withInterba { app in
            let coordinator = WebClient(app)
            try await coordinator.signIn(demo("coordinator.tirana"))
            #expect(try await coordinator.get("/campaigns/new").status == .ok)
            let campaign = try await CampaignFixture.create(coordinator, app)
            #expect(campaign.state == .draft)
            #expect(campaign.targetInstitutions == [try await app.institution("tirana").requireID()])
            #expect(campaign.minimumGroupSize == 2)

            let bad = try await coordinator.post("/campaigns", [("title", ""), ("scope", "institution:\(try await app.institution("tirana").requireID())"),
                                                                ("opens_on", "2026-05-01"), ("closes_on", "2026-04-01"), ("minimum_group_size", "0")])
            #expect(bad.status == .unprocessableEntity)
            let html = bad.body.string
            for key in ["validation.title_required", "validation.groups_required", "validation.window", "validation.minimum_group_size", "validation.instrument_required"] {
                #expect(html.contains(app.catalog.text(key, .en).html), "\(key)")
            }
            #expect(html.contains("value=\"2026-05-01\""))
            #expect(try await Campaign.query(on: app.db).count() == 1)

            // Another institution's coordinator, and staff, cannot.
            let other = WebClient(app)
            try await other.signIn(demo("coordinator.prishtina"))
            let tirana = try await app.institution("tirana").requireID().uuidString
            let foreign = try await other.post("/campaigns", [("title", "x"), ("scope", "institution:\(tirana)"), ("groups[]", "students"),
                                                               ("opens_on", "2026-01-01"), ("closes_on", "2026-02-01"), ("minimum_group_size", "5")])
            #expect(foreign.status == .forbidden)
            #expect(try await other.get("/campaigns/\(campaign.requireID())").status == .forbidden)
            let staff = WebClient(app)
            try await staff.signIn(demo("staff.tirana"))
            #expect(try await staff.get("/campaigns").status == .forbidden)
        }
    }

    @Test("states move draft → open → closed → analysed → validated → published, and only that way")
    func stateMachine() async throws {
        try await withInterba { app in
            let coordinator = WebClient(app)
            try await coordinator.signIn(demo("coordinator.tirana"))
            let campaign = try await CampaignFixture.create(coordinator, app)
            let id = try campaign.requireID().uuidString
            func state() async throws -> Campaign.State { try #require(try await Campaign.find(campaign.requireID(), on: app.db)).state }

            _ = try await coordinator.post("/campaigns/\(id)/close", [])
            #expect(try await state() == .draft, "cannot close a draft")
            #expect(try await coordinator.post("/campaigns/\(id)/analyse", []).status == .seeOther)
            #expect(try await state() == .draft, "cannot analyse a draft")

            _ = try await coordinator.post("/campaigns/\(id)/open", [])
            #expect(try await state() == .open)
            #expect(try await Instrument.find(campaign.$instrument.id, on: app.db)?.frozen == true, "an instrument in use is frozen")

            for group in ["academic_staff", "students"] {
                for index in 0..<2 {
                    let token = try await CampaignFixture.invite(app, campaign, group: group, email: "\(group)\(index)@example.org")
                    let done = try await CampaignFixture.respond(app, token: token, group: group, performance: group == "students" ? 1 : 3)
                    #expect(done.body.string.contains("id=\"respond-thanks\""))
                }
            }
            _ = try await coordinator.post("/campaigns/\(id)/close", [])
            #expect(try await state() == .closed)
            #expect(try await coordinator.get("/campaigns/\(id)/analysis").status == .ok)
            let analysed = try await coordinator.post("/campaigns/\(id)/analyse", [("feasibility:A4", "1"), ("strategic", "A4")])
            #expect(analysed.status == .seeOther)
            #expect(try await state() == .analysed)
            let stored = try #require(try await Campaign.find(campaign.requireID(), on: app.db)?.results)
            #expect(stored.responses == 4)
            let a4 = try #require(stored.analysis.area("A4"))
            // Importance 5 everywhere; performance 3 (academic staff) and 1 (students), equal group weights:
            // MWDS = (5 − 3)·5 = 10 and (5 − 1)·5 = 20 → balanced 15 for every item both groups answer.
            // Items shown to one group only: A3.2 and A7.3 (staff: 10), A5.4 (students: 20); A7.4 (administrative staff,
            // not in this campaign) has no data. μ = (51·15 + 10 + 10 + 20) / 54 = 805/54.
            // A4's items have n = 4 each: S = (4·15 + 5·μ)/9, gap = S/20, priority = gap × (0.6 + 0.4·1) × (1 + 0.25·1).
            let mu = 805.0 / 54.0
            #expect(abs((stored.analysis.mu ?? 0) - mu) < 1e-9)
            let expectedGap = (4 * 15 + 5 * mu) / 9 / 20
            #expect(abs(a4.gap - expectedGap) < 1e-9)
            #expect(abs(a4.priority - expectedGap * 1.0 * 1.25) < 1e-9)
            #expect(a4.strategic)

            let results = try await coordinator.get("/campaigns/\(id)/results")
            #expect(results.status == .ok)
            #expect(results.body.string.contains("role=\"img\""))
            #expect(results.body.string.contains("data-area=\"A4\""))

            #expect(try await coordinator.post("/campaigns/\(id)/publish", []).status == .seeOther)
            #expect(try await state() == .analysed, "cannot publish before validation")
            let missing = try await coordinator.post("/campaigns/\(id)/validate", [("include", "A4"), ("rank:A4", "1"), ("rationale:A4", "")])
            #expect(missing.status == .unprocessableEntity)
            let validated = try await coordinator.post("/campaigns/\(id)/validate", [("include", "A4"), ("rank:A4", "1"), ("rationale:A4", "COIL pilots with partners"),
                                                                                     ("include", "A3"), ("rank:A3", "2"), ("rationale:A3", "Curriculum review")])
            #expect(validated.status == .seeOther)
            #expect(try await state() == .validated)
            _ = try await coordinator.post("/campaigns/\(id)/publish", [])
            #expect(try await state() == .published)
            let priorities = try await PublishedPriorities(db: app.db).forInstitution(try await app.institution("tirana").requireID())
            #expect(priorities.map(\.area) == ["A4", "A3"])
            #expect(priorities.first?.rationale == "COIL pilots with partners")
            #expect(try await PublishedPriorities(db: app.db).forInstitution(try await app.institution("uet").requireID()).isEmpty)
        }
    }

    @Test("exports are RFC 4180 CSV with a BOM, one row per response, and counts that match")
    func exports() async throws {
        try await withInterba { app in
            let coordinator = WebClient(app)
            try await coordinator.signIn(demo("coordinator.tirana"))
            let campaign = try await CampaignFixture.create(coordinator, app, groups: ["students"], minimum: "1")
            let id = try campaign.requireID().uuidString
            _ = try await coordinator.post("/campaigns/\(id)/open", [])
            for index in 0..<3 {
                let token = try await CampaignFixture.invite(app, campaign, group: "students", email: "s\(index)@example.org")
                _ = try await CampaignFixture.respond(app, token: token, group: "students")
            }
            _ = try await coordinator.post("/campaigns/\(id)/close", [])
            _ = try await coordinator.post("/campaigns/\(id)/analyse", [])
            let raw = try await coordinator.get("/campaigns/\(id)/export/responses.csv")
            #expect(raw.headers.contentType?.subType == "csv")
            let bytes = Array(raw.body.readableBytesView)
            #expect(bytes.starts(with: [0xEF, 0xBB, 0xBF]))
            let text = String(decoding: bytes.dropFirst(3), as: UTF8.self)
            let lines = text.split(separator: "\r\n", omittingEmptySubsequences: true)
            #expect(lines.count == 4, "header + 3 responses")
            #expect(lines[0].hasPrefix("response,institution,group,submitted_on,A1.1.I,A1.1.P"))
            #expect(lines[1].contains("\"Erasmus+ CBHE, 2019–2022\""), "a field with a comma is quoted")
            let areas = try await coordinator.get("/campaigns/\(id)/export/areas.csv?bom=0")
            let areaLines = areas.body.string.split(separator: "\r\n")
            #expect(areaLines.count == 14, "header + 13 areas")
            #expect(!areas.body.string.hasPrefix("\u{FEFF}"))
            let codebook = try await coordinator.get("/campaigns/\(id)/export/codebook.csv")
            #expect(codebook.body.string.contains("Shqip") == false)
            #expect(codebook.body.string.contains("KC.1,A4,option"))
            #expect(try await coordinator.get("/campaigns/\(id)/export/nope.csv").status == .notFound)
            let other = WebClient(app)
            try await other.signIn(demo("coordinator.uet"))
            #expect(try await other.get("/campaigns/\(id)/export/responses.csv").status == .forbidden)
        }
    }
}

@Suite("Responding")
struct RespondingTests {
    func openCampaign(_ app: Application, minimum: String = "1") async throws -> Campaign {
        let coordinator = WebClient(app)
        try await coordinator.signIn(demo("coordinator.tirana"))
        let campaign = try await CampaignFixture.create(coordinator, app, groups: ["academic_staff", "students"], minimum: minimum)
        _ = try await coordinator.post("/campaigns/\(campaign.requireID())/open", [])
        return try #require(try await Campaign.find(campaign.requireID(), on: app.db))
    }

    @Test("answers are checked per item, kept on rejection, saved between visits, and a tampered item is refused")
    func pages() async throws {
        try await withInterba { app in
            let campaign = try await openCampaign(app)
            let token = try await CampaignFixture.invite(app, campaign, group: "students", email: "s@example.org")
            let client = WebClient(app)
            let start = try await client.get("/respond/\(token)")
            #expect(start.status == .ok)
            #expect(start.body.string.contains("/respond/\(token)/page/1"))

            let outOfRange = try await client.post("/respond/\(token)/page/1", [("i:A1.1", "7"), ("p:A1.1", "2"), ("action", "next")])
            #expect(outOfRange.status == .unprocessableEntity)
            #expect(outOfRange.body.string.contains(app.catalog.text("respond.error.range", .en).html))
            let onlyOne = try await client.post("/respond/\(token)/page/1", [("i:A1.1", "4"), ("action", "next")])
            #expect(onlyOne.body.string.contains(app.catalog.text("respond.error.both", .en).html))
            #expect(onlyOne.body.string.contains("name=\"i:A1.1\" value=\"4\" checked"), "what was typed stays")

            let tampered = try await client.post("/respond/\(token)/page/1", [("i:A9.1", "4"), ("p:A9.1", "4"), ("action", "next")])
            #expect(tampered.status == .badRequest)

            // Save part of a page for later, come back, find it again.
            let later = try await client.post("/respond/\(token)/page/1", [("i:A1.1", "4"), ("p:A1.1", "2"), ("action", "later")])
            #expect(later.status == .seeOther)
            let resumed = try await WebClient(app).get("/respond/\(token)/page/1")
            #expect(resumed.body.string.contains("name=\"i:A1.1\" value=\"4\" checked"))
            #expect(resumed.body.string.contains("name=\"p:A1.1\" value=\"2\" checked"))
            let review = try await client.get("/respond/\(token)/review")
            #expect(review.body.string.contains("id=\"review-missing\""))
            let early = try await client.post("/respond/\(token)/submit", [])
            #expect(early.status == .unprocessableEntity)
            #expect(try await SurveyResponse.query(on: app.db).count() == 0)
        }
    }

    @Test("a reminder's new link opens the answers saved with the old one")
    func reminderKeepsDraft() async throws {
        let mailer = RecordingMailer()
        try await withInterba(mailer: mailer) { app in
            let campaign = try await openCampaign(app)
            let coordinator = WebClient(app)
            try await coordinator.signIn(demo("coordinator.tirana"))
            _ = try await coordinator.post("/campaigns/\(campaign.requireID())/invitations",
                                           [("email", "slow@example.org"), ("group", "students"), ("institution_id", campaign.targetInstitutions[0].uuidString)])
            let first = try #require(mailer.link(to: "slow@example.org")).components(separatedBy: "/respond/").last!
            _ = try await WebClient(app).post("/respond/\(first)/page/1", [("i:A1.1", "3"), ("p:A1.1", "4"), ("action", "later")])
            _ = try await coordinator.post("/campaigns/\(campaign.requireID())/remind", [])
            let second = try #require(mailer.link(to: "slow@example.org")).components(separatedBy: "/respond/").last!
            #expect(second != first)
            #expect(mailer.sent.last?.subject == app.catalog.text("mail.survey_reminder.subject", .en, [campaign.title]))
            let page = try await WebClient(app).get("/respond/\(second)/page/1")
            #expect(page.body.string.contains("name=\"i:A1.1\" value=\"3\" checked"))
            #expect(page.body.string.contains("name=\"p:A1.1\" value=\"4\" checked"))
            #expect(try await ResponseDraft.query(on: app.db).count() == 1)
        }
    }

    @Test("a response is stored without identity, a link submits once, and a closed campaign says so")
    func submitOnce() async throws {
        try await withInterba { app in
            let campaign = try await openCampaign(app)
            let token = try await CampaignFixture.invite(app, campaign, group: "academic_staff", email: "prof@example.org")
            let done = try await CampaignFixture.respond(app, token: token, group: "academic_staff")
            #expect(done.status == .ok)
            let response = try #require(try await SurveyResponse.query(on: app.db).first())
            #expect(response.group == "academic_staff")
            #expect(response.submittedOn.count == 10, "the day only")
            let answers = try await SurveyAnswer.query(on: app.db).count()
            #expect(answers > 55)
            #expect(try await ResponseDraft.query(on: app.db).count() == 0, "the draft is gone")
            let invitation = try #require(try await CampaignInvitation.query(on: app.db).first())
            #expect(invitation.submittedAt != nil)

            let again = try await WebClient(app).post("/respond/\(token)/submit", [])
            #expect(again.status == .gone)
            #expect(again.body.string.contains("id=\"respond-submitted\""))
            #expect(try await SurveyResponse.query(on: app.db).count() == 1)
            #expect(try await SurveyAnswer.query(on: app.db).count() == answers)

            let second = try await CampaignFixture.invite(app, campaign, group: "students", email: "late@example.org")
            campaign.state = .closed
            try await campaign.save(on: app.db)
            let closed = try await WebClient(app).get("/respond/\(second)")
            #expect(closed.status == .gone)
            #expect(closed.body.string.contains("id=\"respond-closed\""))
            let unknown = try await WebClient(app).get("/respond/not-a-token")
            #expect(unknown.status == .notFound)
            #expect(unknown.body.string.contains("id=\"respond-invalid\""))
        }
    }

    @Test("an open link gives each respondent their own link and stops at its cap")
    func openLink() async throws {
        try await withInterba { app in
            let campaign = try await openCampaign(app)
            let coordinator = WebClient(app)
            try await coordinator.signIn(demo("coordinator.tirana"))
            let created = try await coordinator.post("/campaigns/\(campaign.requireID())/open-links",
                                                     [("group", "students"), ("institution_id", campaign.targetInstitutions[0].uuidString), ("cap", "1")])
            #expect(created.status == .created)
            let html = created.body.string
            let range = try #require(html.range(of: #"/respond/[A-Za-z0-9_-]+"#, options: .regularExpression))
            let openPath = String(html[range])
            let first = try await WebClient(app).get(openPath)
            #expect(first.status == .seeOther)
            let personal = try #require(first.headers.first(name: .location))
            #expect(personal != openPath)
            let second = try await WebClient(app).get(openPath)
            let otherPersonal = try #require(second.headers.first(name: .location))
            _ = try await CampaignFixture.respond(app, token: String(personal.dropFirst("/respond/".count)), group: "students")
            let full = try await WebClient(app).get(otherPersonal)
            #expect(full.status == .gone)
            #expect(full.body.string.contains("id=\"respond-full\""))
            #expect(try await WebClient(app).get(openPath).body.string.contains("id=\"respond-full\""))
            #expect(try await SurveyResponse.query(on: app.db).count() == 1)
        }
    }

    @Test("a CSV upload invites the good rows and reports the bad ones by line; a non-UTF-8 file changes nothing")
    func csvUpload() async throws {
        let mailer = RecordingMailer()
        try await withInterba(mailer: mailer) { app in
            let campaign = try await openCampaign(app)
            let coordinator = WebClient(app)
            try await coordinator.signIn(demo("coordinator.tirana"))
            func upload(_ data: Data) async throws -> TestingHTTPResponse {
                let boundary = "----interba-test"
                var body = Data()
                let csrf = try await coordinator.csrfToken()
                for (name, value) in [("_csrf", csrf), ("institution_id", campaign.targetInstitutions[0].uuidString)] {
                    body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8)
                }
                body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"people.csv\"\r\nContent-Type: text/csv\r\n\r\n".utf8)
                body += data
                body += Data("\r\n--\(boundary)--\r\n".utf8)
                var headers = HTTPHeaders()
                headers.replaceOrAdd(name: .contentType, value: "multipart/form-data; boundary=\(boundary)")
                headers.replaceOrAdd(name: .cookie, value: coordinator.cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; "))
                return try await app.testing().sendRequest(.POST, "/campaigns/\(campaign.requireID())/invitations/csv", headers: headers,
                                                           body: ByteBuffer(data: body))
            }
            let csv = "\u{FEFF}email;group\nana@example.org;students\nnot-an-email;students\nbeni@example.org;aliens\nana@example.org;students\nçela@example.org;academic_staff\n"
            let response = try await upload(Data(csv.utf8))
            #expect(response.status == .unprocessableEntity)
            let html = response.body.string
            #expect(html.contains(app.catalog.text("invitations.csv.line", .en, ["3", app.catalog.text("invitations.csv.bad_email", .en), "not-an-email"]).html))
            #expect(html.contains(app.catalog.text("invitations.csv.line", .en, ["4", app.catalog.text("invitations.csv.bad_group", .en), "aliens"]).html))
            #expect(html.contains(app.catalog.text("invitations.csv.line", .en, ["5", app.catalog.text("invitations.csv.duplicate", .en), "ana@example.org"]).html))
            #expect(Set(mailer.sent.map(\.to)) == ["ana@example.org", "çela@example.org"])
            #expect(try await CampaignInvitation.query(on: app.db).count() == 2)

            let latin1 = Data([0x65, 0x40, 0x78, 0x2E, 0x6F, 0x72, 0x67, 0x3B, 0xEB, 0x0A])
            let refused = try await upload(latin1)
            #expect(refused.status == .unprocessableEntity)
            #expect(refused.body.string.contains(app.catalog.text("invitations.csv.encoding", .en).html))
            #expect(try await CampaignInvitation.query(on: app.db).count() == 2)
        }
    }
}

@Suite("Knowledge capital")
struct KnowledgeCapitalTests {
    @Test("after an anonymous submission a respondent may share expertise by name; the coordinator nominates, which invites them as an expert")
    func shareExpertise() async throws {
        let mailer = RecordingMailer()
        try await withInterba(mailer: mailer) { app in
            let coordinator = WebClient(app)
            try await coordinator.signIn(demo("coordinator.tirana"))
            let campaign = try await CampaignFixture.create(coordinator, app, groups: ["academic_staff"], minimum: "1")
            _ = try await coordinator.post("/campaigns/\(campaign.requireID())/open", [])
            let fresh = try #require(try await Campaign.find(campaign.requireID(), on: app.db))
            let token = try await CampaignFixture.invite(app, fresh, group: "academic_staff", email: "expert@example.org")
            let thanks = try await CampaignFixture.respond(app, token: token, group: "academic_staff")
            // The fixture declares expertise in A1 and a project, and says yes to contact.
            #expect(thanks.body.string.contains("/respond/\(token)/expertise"))
            #expect(thanks.body.string.contains("value=\"A1\" checked"))
            let client = WebClient(app)
            let noConsent = try await client.post("/respond/\(token)/expertise", [("name", "Elira Dervishi"), ("email", "elira@example.org"), ("areas[]", "A4")])
            #expect(noConsent.status == .unprocessableEntity)
            #expect(noConsent.body.string.contains(app.catalog.text("kc.error.consent", .en).html))
            #expect(noConsent.body.string.contains("value=\"Elira Dervishi\""))
            let shared = try await client.post("/respond/\(token)/expertise", [("name", "Elira Dervishi"), ("email", "elira@example.org"),
                                                                               ("areas[]", "A4"), ("areas[]", "A9"), ("projects", "Erasmus+ CBHE 2019–2022"), ("consent", "yes")])
            #expect(shared.body.string.contains("id=\"respond-shared\""))
            let declaration = try #require(try await KnowledgeCapitalDeclaration.query(on: app.db).first())
            #expect(declaration.areas == ["A4", "A9"])
            #expect(declaration.status == .new)
            #expect(try await client.post("/respond/\(token)/expertise", [("name", "Again"), ("email", "a@example.org"), ("areas[]", "A1"), ("consent", "yes")]).status == .gone)
            #expect(try await KnowledgeCapitalDeclaration.query(on: app.db).count() == 1)
            // Nothing links the declaration to the answers.
            let response = try #require(try await SurveyResponse.query(on: app.db).first())
            #expect(response.id != declaration.id)

            let list = try await coordinator.get("/campaigns/\(campaign.requireID())/knowledge-capital")
            #expect(list.body.string.contains("data-email=\"elira@example.org\""))
            _ = try await coordinator.post("/campaigns/\(campaign.requireID())/knowledge-capital/\(declaration.requireID())", [("status", "nominated")])
            #expect(try await KnowledgeCapitalDeclaration.find(declaration.requireID(), on: app.db)?.status == .nominated)
            // Elira has no account: she is invited with the expert role, and her profile is made from what she declared.
            let invitation = try #require(try await OneTimeLink.query(on: app.db).filter(\.$email == "elira@example.org").first())
            #expect(invitation.role == Role.expert.rawValue)
            #expect(try await ExpertProfile.query(on: app.db).count() == 0)
            let link = try #require(mailer.link(to: "elira@example.org"))
            let invitationToken = String(try #require(link.split(separator: "/").last))
            let joined = try await WebClient(app).post("/invitations/\(invitationToken)", [("name", "Elira Dervishi"), ("password", "a long enough passphrase 42")])
            #expect(joined.status == .seeOther)
            let elira = try await app.user("elira@example.org")
            let profile = try #require(try await ExpertProfile.query(on: app.db).filter(\.$user.$id == elira.requireID()).first())
            #expect(profile.source == .needsAnalysis)
            #expect(profile.status == .nominated)
            let competencies = try await ExpertCompetency.query(on: app.db).filter(\.$expert.$id == profile.requireID()).all()
            #expect(Set(competencies.map(\.area)) == ["A4", "A9"])
            #expect(competencies.allSatisfy { $0.proficiency == 2 && $0.evidence.contains("Erasmus+ CBHE 2019–2022") })
            // Someone who already has an account gets the nominated profile at once (and only one, however often).
            let known = KnowledgeCapitalDeclaration()
            known.$campaign.id = try campaign.requireID()
            known.institutionID = try #require(try await app.user(demo("staff.tirana")).$institution.id)
            known.name = "Sara Stafi"
            known.email = demo("staff.tirana")
            known.areas = ["A7"]
            known.projects = ""
            known.status = .new
            try await known.create(on: app.db)
            for _ in 0..<2 {
                let nominated = try await coordinator.post("/campaigns/\(campaign.requireID())/knowledge-capital/\(known.requireID())", [("status", "nominated")])
                #expect(nominated.status == .seeOther)
            }
            let sara = try await app.user(demo("staff.tirana"))
            #expect(try await ExpertProfile.query(on: app.db).filter(\.$user.$id == sara.requireID()).count() == 1)
            #expect(mailer.sent.contains { $0.to == demo("staff.tirana") && $0.subject == app.catalog.text("experts.mail.nominated", .en) })
            let other = WebClient(app)
            try await other.signIn(demo("coordinator.uet"))
            #expect(try await other.get("/campaigns/\(campaign.requireID())/knowledge-capital").status == .forbidden)
        }
    }
}

@Suite("Needs-analysis API and demo data")
struct NeedsAnalysisAPITests {
    @Test("the demo campaigns are analysed; the API lists them and returns every component per area")
    func demoAndAPI() async throws {
        try await withInterba(campaigns: true) { app in
            let campaigns = try await Campaign.query(on: app.db).all()
            #expect(campaigns.count == 4)
            #expect(campaigns.filter { $0.state == .analysed }.count == 3)
            let regional = try #require(campaigns.first { $0.scope == .region })
            #expect(regional.results?.rollUp?.countries.count ?? 0 >= 5)
            let prishtina = try #require(campaigns.first { $0.title.contains("Prishtina") })
            // Three managers answered there: their group is never shown.
            #expect(prishtina.results?.analysis.areas.allSatisfy { area in !area.groups.contains { $0.group == "management" } } == true)

            let service = AccountService(db: app.db, mailer: OutboxMailer(), catalog: app.catalog, baseURL: "http://test", audit: .system, bcryptCost: 4)
            let (_, secret) = try await service.createToken(for: try await app.user(demo("coordinator.tirana")), name: "api")
            var headers = HTTPHeaders()
            headers.bearerAuthorization = BearerAuthorization(token: secret)
            let list = try await app.testing().sendRequest(.GET, "/api/v1/campaigns", headers: headers)
            struct List: Decodable { var total: Int; var items: [Item]; struct Item: Decodable { var id: UUID; var state: String } }
            let decoded = try JSONDecoder().decode(List.self, from: list.body)
            #expect(decoded.total == 1, "the Tirana coordinator runs only the Tirana campaign")
            let results = try await app.testing().sendRequest(.GET, "/api/v1/campaigns/\(decoded.items[0].id)/results", headers: headers)
            #expect(results.status == .ok)
            struct Results: Decodable { var areas: [Area]; struct Area: Decodable { var area: String; var importance: Double; var performance: Double; var n: Int; var gap: Double; var consensus: Double?; var quadrant: String; var priority: Double; var rank: Int } }
            let body = try JSONDecoder().decode(Results.self, from: results.body)
            #expect(body.areas.count == 13)
            #expect(body.areas.map(\.rank) == Array(1...13))
            #expect(body.areas.allSatisfy { (0...1).contains($0.gap) && $0.n > 0 })
            let foreign = try await app.testing().sendRequest(.GET, "/api/v1/campaigns/\(regional.requireID())/results", headers: headers)
            #expect(foreign.status == .forbidden)

            // The Tirana coordinator's own results sit next to the national and regional means of the regional campaign.
            let tiranaCampaign = try #require(campaigns.first { $0.title.contains("University of Tirana") })
            let tiranaPage = try await { () async throws -> TestingHTTPResponse in
                let client = WebClient(app)
                try await client.signIn(demo("coordinator.tirana"))
                return try await client.get("/campaigns/\(tiranaCampaign.requireID())/results")
            }()
            #expect(tiranaPage.body.string.contains("id=\"comparison\""))
            #expect(tiranaPage.body.string.contains(regional.title))

            let regionalCoordinator = WebClient(app)
            try await regionalCoordinator.signIn(demo("regional"))
            let page = try await regionalCoordinator.get("/campaigns/\(regional.requireID())/results")
            #expect(page.status == .ok)
            #expect(page.body.string.contains("heat-title"))
        }
    }
}
