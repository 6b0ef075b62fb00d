@testable import App
import Fluent
import Foundation
import Testing
import Vapor
import VaporTesting

@Suite("Coordination pages", .serialized)
struct CoordinationPagesTests {
    func requestFields(title: String, windowStart: String = "", windowEnd: String = "") -> [(String, String)] {
        [("title", title), ("gap", "Our teachers have never run a COIL module & need a first one."), ("outcomes", "Two pilot modules."),
         ("areas[]", "A4"), ("languages[]", "en"), ("formats[]", "workshop"), ("audience_role", "Teachers"), ("audience_size", "20"),
         ("window_start", windowStart), ("window_end", windowEnd), ("urgency", "normal"), ("constraints", ""), ("earlier_attempts", "")]
    }

    @Test("a request from the form to the evaluated delivery, through triage, the ranked experts and the offer")
    func journey() async throws {
        try await withCoordination { f in
            try await f.expert("expert.tirana", level: .institutional, areas: ["A4": 4])
            let staff = WebClient(f.app)
            try await staff.signIn(demo("staff.tirana"))
            // A window that ends before it starts: refused, everything typed kept, nothing stored.
            let bad = try await staff.post("/requests", requestFields(title: "COIL with Bari", windowStart: "2026-06-10", windowEnd: "2026-06-01"))
            #expect(bad.status == .unprocessableEntity)
            #expect(bad.body.string.contains(f.app.catalog.text("rfk.error.window-order", .en).html))
            #expect(bad.body.string.contains("value=\"COIL with Bari\""))
            #expect(bad.body.string.contains("need a first one."))
            #expect(try await KnowledgeRequest.query(on: f.app.db).count() == 0)
            let created = try await staff.post("/requests", requestFields(title: "COIL with Bari", windowStart: "2026-06-01", windowEnd: "2026-06-30"))
            #expect(created.status == .seeOther)
            let request = try #require(try await KnowledgeRequest.query(on: f.app.db).first())
            let path = "/requests/\(request.id!.uuidString)"
            #expect(try await staff.post("\(path)/submit", []).status == .seeOther)
            // Double submission changes nothing and says why.
            #expect(try await staff.post("\(path)/submit", []).status == .seeOther)
            #expect(try await RequestEvent.query(on: f.app.db).filter(\.$event == "submit").count() == 1)
            let markdown = try await staff.get("\(path)/document.md")
            #expect(markdown.headers.first(name: .contentType)?.hasPrefix("text/markdown") == true)
            #expect(markdown.body.string.hasPrefix("# COIL with Bari"))
            #expect(markdown.body.string.contains("need a first one."))

            let coordinator = WebClient(f.app)
            try await coordinator.signIn(demo("coordinator.tirana"))
            #expect(try await coordinator.get("/requests").body.string.contains("COIL with Bari"))
            #expect(try await coordinator.post("\(path)/triage", [("event", "accept"), ("note", "")]).status == .seeOther)
            let page = try await coordinator.get(path)
            #expect(page.body.string.contains("id=\"candidates\""))
            #expect(page.body.string.contains("Eda Eksperte"))
            #expect(page.body.string.contains(f.app.catalog.text("rfk.component.topic", .en)))
            // Contact details are hidden before acceptance.
            #expect(!page.body.string.contains(demo("expert.tirana")))
            let expertProfile = try #require(try await ExpertProfile.query(on: f.app.db).first())
            #expect(try await coordinator.post("\(path)/offer", [("expert_id", expertProfile.id!.uuidString), ("note", "")]).status == .seeOther)

            let expert = WebClient(f.app)
            try await expert.signIn(demo("expert.tirana"))
            let offers = try await expert.get("/offers")
            #expect(offers.body.string.contains("COIL with Bari"))
            let offer = try #require(try await RequestOffer.query(on: f.app.db).first())
            #expect(try await expert.post("/offers/\(offer.id!.uuidString)/answer", [("accept", "yes")]).status == .seeOther)
            let accepted = try await staff.get(path)
            #expect(accepted.body.string.contains("id=\"contacts\""))
            #expect(accepted.body.string.contains(demo("expert.tirana")))
            #expect(try await expert.get(path).body.string.contains(demo("staff.tirana")))
            #expect(try await expert.post("\(path)/plan", [("planned_on", "2026-06-15"), ("planned_format", "workshop")]).status == .seeOther)
            #expect(try await expert.post("\(path)/deliver", []).status == .seeOther)
            let noRating = try await staff.post("\(path)/evaluate", [("evaluation", "Good")])
            #expect(noRating.status == .unprocessableEntity)
            #expect(noRating.body.string.contains("Good"))
            #expect(try await staff.post("\(path)/evaluate", [("rating", "4"), ("evaluation", "Good")]).status == .seeOther)
            let done = try await staff.get(path)
            // The requester learns the case exists; only the expert, who completes it, gets the link to the draft.
            #expect(done.body.string.contains("id=\"knowledge-case-drafted\""))
            #expect(!done.body.string.contains("id=\"knowledge-case\""))
            #expect(try await expert.get(path).body.string.contains("id=\"knowledge-case\""))
            #expect(done.body.string.contains("id=\"request-trail\""))
            let reloaded = try await f.reload(request)
            #expect(reloaded.workflowState == .evaluated)
            #expect(try await RepositoryRecord.find(reloaded.knowledgeCaseID, on: f.app.db) != nil)
            // Someone unrelated cannot read the request at all.
            let other = WebClient(f.app)
            try await other.signIn(demo("staff.prishtina"))
            #expect(try await other.get(path).status == .notFound)
        }
    }

    @Test("expert profiles: own profile with validation, nominations, status and level by the right coordinator, public directory")
    func profiles() async throws {
        try await withCoordination { f in
            let staff = WebClient(f.app)
            try await staff.signIn(demo("staff.tirana"))
            var fields: [(String, String)] = [("bio", "I run COIL."), ("orcid", "0000-0002-1825-0098"), ("capacity", "2"),
                                              ("proficiency[A4]", "4"), ("evidence[A4]", "Three COIL modules"), ("languages[]", "en"),
                                              ("formats[]", "workshop"), ("windows[0][start]", "2026-05-10"), ("windows[0][end]", "2026-05-01"),
                                              ("is_public", "on")]
            let bad = try await staff.post("/experts/me", fields)
            #expect(bad.status == .unprocessableEntity)
            #expect(bad.body.string.contains(f.app.catalog.text("repository.error.orcid", .en).html))
            #expect(bad.body.string.contains(f.app.catalog.text("rfk.error.window-order", .en).html))
            #expect(bad.body.string.contains("Three COIL modules"))
            #expect(try await ExpertProfile.query(on: f.app.db).count() == 0)
            fields = fields.map { ($0.0, $0.0 == "orcid" ? "0000-0002-1825-0097" : $0.0 == "windows[0][end]" ? "2026-06-01" : $0.1) }
            #expect(try await staff.post("/experts/me", fields).status == .seeOther)
            let profile = try #require(try await ExpertProfile.query(on: f.app.db).first())
            #expect(profile.status == .nominated)
            #expect(profile.orcid == "0000-0002-1825-0097")
            // Not in the directory until active.
            #expect(!(try await WebClient(f.app).get("/experts").body.string.contains("Sara Stafi")))
            let coordinator = WebClient(f.app)
            try await coordinator.signIn(demo("coordinator.tirana"))
            // Nominated → active directly is not a step of the lifecycle.
            _ = try await coordinator.post("/experts/\(profile.id!.uuidString)/status", [("status", "active")])
            #expect(try await ExpertProfile.find(profile.id, on: f.app.db)?.status == .nominated)
            #expect(try await coordinator.post("/experts/\(profile.id!.uuidString)/status", [("status", "under_review")]).status == .seeOther)
            #expect(try await coordinator.post("/experts/\(profile.id!.uuidString)/status", [("status", "active")]).status == .seeOther)
            #expect(try await ExpertProfile.find(profile.id, on: f.app.db)?.status == .active)
            // The institution's coordinator grants the institutional level, not the national one; the national coordinator does.
            #expect(try await coordinator.post("/experts/\(profile.id!.uuidString)/level", [("level", "national")]).status == .forbidden)
            let national = WebClient(f.app)
            try await national.signIn(demo("national.al"))
            #expect(try await national.post("/experts/\(profile.id!.uuidString)/level", [("level", "national")]).status == .seeOther)
            #expect(try await ExpertProfile.find(profile.id, on: f.app.db)?.level == .national)
            // Another institution's coordinator can do nothing here.
            let outsider = WebClient(f.app)
            try await outsider.signIn(demo("coordinator.prishtina"))
            #expect(try await outsider.post("/experts/\(profile.id!.uuidString)/status", [("status", "paused")]).status == .forbidden)
            // Listed publicly now, without the e-mail address; filters narrow it.
            let directory = try await WebClient(f.app).get("/experts?area=A4&language=en")
            #expect(directory.body.string.contains("Sara Stafi"))
            #expect(!directory.body.string.contains(demo("staff.tirana")))
            #expect(!(try await WebClient(f.app).get("/experts?area=A9").body.string.contains("Sara Stafi")))
            // Nominating a colleague mails them.
            let trainer = try await f.app.user(demo("trainer.tirana"))
            #expect(try await coordinator.post("/experts/manage/nominate", [("user_id", trainer.id!.uuidString)]).status == .seeOther)
            #expect(try await ExpertProfile.query(on: f.app.db).filter(\.$user.$id == trainer.requireID()).first()?.source == .coordinator)
            #expect(f.mailer.sent.contains { $0.to == demo("trainer.tirana") })
        }
    }

    @Test("admins set the match weights and days; bad numbers are refused and kept")
    func matchingSettings() async throws {
        try await withCoordination { f in
            let admin = WebClient(f.app)
            try await admin.signIn(demo("admin"))
            #expect(try await admin.get("/admin/matching").status == .ok)
            var fields: [(String, String)] = [("topic", "0.5"), ("language", "0.15"), ("format", "0.1"), ("availability", "0.1"), ("quality", "0.1"),
                                              ("proximity", "0.1"), ("load", "0.05"), ("threshold", "1.7"), ("nearTie", "0.02"),
                                              ("offerDays", "7"), ("triageWorkingDays", "5"), ("matchingWorkingDays", "10")]
            let bad = try await admin.post("/admin/matching", fields)
            #expect(bad.status == .unprocessableEntity)
            #expect(bad.body.string.contains("value=\"1.7\""))
            #expect(try await CoordinationSettings.load(on: f.app.db) == CoordinationSettings())
            fields = fields.map { ($0.0, $0.0 == "threshold" ? "0.6" : $0.1) }
            #expect(try await admin.post("/admin/matching", fields).status == .seeOther)
            let saved = try await CoordinationSettings.load(on: f.app.db)
            #expect(saved.weights.topic == 0.5)
            #expect(saved.weights.threshold == 0.6)
            #expect(saved.offerDays == 7)
            let staff = WebClient(f.app)
            try await staff.signIn(demo("staff.tirana"))
            #expect(try await staff.get("/admin/matching").status == .forbidden)
        }
    }
}
