@testable import App
import Fluent
import Foundation
import Testing
import Vapor
import VaporTesting

/// The coordination model end to end on the database: experts, a request, offers, the ladder.
struct CoordinationFixture {
    let app: Application
    let clock: ManualClock
    let mailer: RecordingMailer

    var service: RequestService {
        var service = RequestService(db: app.db, mailer: mailer, catalog: app.catalog, baseURL: "http://test")
        let clock = self.clock
        service.now = { clock.now }
        return service
    }

    func actor(_ local: String) async throws -> Actor {
        try await Actor.load(for: try await app.user(demo(local)), on: app.db)
    }

    @discardableResult
    func expert(_ local: String, level: NetworkLevel, areas: [String: Int], languages: [String] = ["en"], formats: [String] = ["workshop"],
                capacity: Int = 2, status: ExpertProfile.Status = .active) async throws -> ExpertProfile {
        let user = try await app.user(demo(local))
        let profile = ExpertProfile()
        profile.$user.id = try user.requireID()
        profile.$institution.id = try #require(user.$institution.id)
        profile.status = status
        profile.level = level
        profile.source = .coordinator
        profile.bio = "Expert"
        profile.languages = languages
        profile.formats = formats
        profile.capacity = capacity
        profile.isPublic = true
        profile.ratingSum = 0
        profile.ratingCount = 0
        try await profile.create(on: app.db)
        // Available through 2026 and 2027.
        let window = ExpertAvailability()
        window.$expert.id = try profile.requireID()
        window.startsOn = CampaignService.parseDay("2026-01-01")!
        window.endsOn = CampaignService.parseDay("2027-12-31")!
        window.note = ""
        try await window.create(on: app.db)
        for (area, proficiency) in areas {
            let competency = ExpertCompetency()
            competency.$expert.id = try profile.requireID()
            competency.area = area
            competency.proficiency = proficiency
            competency.evidence = "Workshops since 2019"
            competency.links = []
            try await competency.create(on: app.db)
        }
        return profile
    }

    func submittedRequest() async throws -> KnowledgeRequest {
        let requester = try await actor("staff.tirana")
        var input = RequestInput()
        input.title = "Designing a COIL module with a partner in Italy"
        input.gap = "Our teachers have never run a COIL module."
        input.outcomes = "Two pilot modules next spring."
        input.areas = ["A4"]
        input.languages = ["en"]
        input.formats = ["workshop"]
        input.audienceRole = "Academic staff"
        input.audienceSize = "20"
        let request = try await service.create(input, by: requester)
        try await service.submit(request, by: requester)
        return request
    }

    func reload(_ request: KnowledgeRequest) async throws -> KnowledgeRequest {
        try #require(try await KnowledgeRequest.find(request.id, on: app.db))
    }
}

func withCoordination(_ body: (CoordinationFixture) async throws -> Void) async throws {
    let mailer = RecordingMailer()
    try await withInterba(seed: true, mailer: mailer) { app in
        // A Monday morning, so working days are easy to count.
        let monday = Calendar(identifier: .gregorian).date(from: DateComponents(timeZone: TimeZone(identifier: "UTC"), year: 2026, month: 3, day: 2, hour: 9))!
        try await body(CoordinationFixture(app: app, clock: ManualClock(monday), mailer: mailer))
    }
}

@Suite("Coordination: requests, offers and the escalation ladder", .serialized)
struct CoordinationTests {
    @Test("with nobody acting, a request climbs institution → country → region → open listing on the service-level clock")
    func ladder() async throws {
        try await withCoordination { f in
            let request = try await f.submittedRequest()
            #expect(request.workflowState == .submitted)
            #expect(f.mailer.sent.contains { $0.to == demo("coordinator.tirana") })
            // Four working days later the triage time is not up; seven working days later it is.
            f.clock.advance(4 * 86400)
            #expect(try await f.service.sweep().escalated == 0)
            f.clock.advance(5 * 86400)
            #expect(try await f.service.sweep().escalated == 1)
            var current = try await f.reload(request)
            #expect(current.level == 2)
            #expect(current.workflowState == .matching)
            #expect(f.mailer.sent.contains { $0.to == demo("national.al") })
            // At each level, no offer within ten working days: up again.
            f.clock.advance(10 * 86400)
            #expect(try await f.service.sweep().escalated == 0, "ten calendar days are not ten working days")
            f.clock.advance(5 * 86400)
            #expect(try await f.service.sweep().escalated == 1)
            current = try await f.reload(request)
            #expect(current.level == 3)
            #expect(f.mailer.sent.contains { $0.to == demo("regional") })
            f.clock.advance(15 * 86400)
            try await f.service.sweep()
            current = try await f.reload(request)
            #expect(current.level == 4)
            f.clock.advance(30 * 86400)
            #expect(try await f.service.sweep().escalated == 0, "the open listing is the top")
            let events = try await RequestEvent.query(on: f.app.db).filter(\.$request.$id == request.requireID()).sort(\.$createdAt).all()
            #expect(events.map(\.event) == ["submit", "escalate", "escalate", "escalate"])
            #expect(events.filter { $0.event == "escalate" }.map(\.level) == [2, 3, 4])
            #expect(events.allSatisfy { $0.event == "submit" || $0.actorKind == "system" })
        }
    }

    @Test("offer, foreign and late answers refused, expiry passes on, override needs a reason, delivery evaluated into a knowledge case")
    func offers() async throws {
        try await withCoordination { f in
            let best = try await f.expert("expert.tirana", level: .institutional, areas: ["A4": 4])
            let weak = try await f.expert("trainer.tirana", level: .institutional, areas: ["A9": 1], languages: ["sq"], formats: ["mentoring"])
            let national = try await f.expert("coordinator.uet", level: .national, areas: ["A4": 3])
            let request = try await f.submittedRequest()
            let coordinator = try await f.actor("coordinator.tirana")
            let requester = try await f.actor("staff.tirana")
            // The requester cannot triage their own request; the coordinator can.
            await #expect(throws: (any Error).self) { try await f.service.triage(request, event: .accept, note: "", by: requester) }
            try await f.service.triage(request, event: .accept, note: "", by: coordinator)
            let (ranking, _, _) = try await f.service.ranking(request, on: f.app.db)
            #expect(ranking.first?.expertID == best.id)
            #expect(ranking.first?.aboveThreshold == true)
            #expect(ranking.first { $0.expertID == weak.id }?.aboveThreshold == false)
            #expect(ranking.first?.components.topic == 1.0)
            // The requester may not make offers.
            await #expect(throws: (any Error).self) { try await f.service.offer(request, to: best.requireID(), reason: "", by: requester) }
            try await f.service.offer(request, to: best.requireID(), reason: "", by: coordinator)
            var current = try await f.reload(request)
            #expect(current.workflowState == .offered)
            let offer = try #require(try await f.service.openOffer(current, on: f.app.db))
            #expect(f.mailer.sent.contains { $0.to == demo("expert.tirana") })
            // Another expert cannot accept it; after five days the offer has expired, even before the sweep.
            await #expect(throws: CoordinationError.notYourOffer) { try await f.service.respond(to: offer.requireID(), accept: true, by: try await f.actor("trainer.tirana")) }
            f.clock.advance(5 * 86400 + 60)
            await #expect(throws: CoordinationError.offerExpired) { try await f.service.respond(to: offer.requireID(), accept: true, by: try await f.actor("expert.tirana")) }
            #expect(try await f.reload(request).workflowState == .offered)
            let refusals = try await RequestEvent.query(on: f.app.db).filter(\.$actorKind == "refused").count()
            #expect(refusals == 2)
            // The sweep expires it; the only other local candidate is below the threshold: up to the country.
            #expect(try await f.service.sweep().expired == 1)
            current = try await f.reload(request)
            #expect(current.level == 2)
            #expect(current.workflowState == .matching)
            // The national coordinator offers the national expert; the ranking has them above the threshold.
            let nationalCoordinator = try await f.actor("national.al")
            #expect(try await f.service.coordinates(current, nationalCoordinator))
            #expect(!(try await f.service.coordinates(current, coordinator)), "level 2 is no longer the institution's")
            // Offering a retired expert fails; an expert below the threshold needs a reason (override).
            let retired = try await f.expert("expert.mostar", level: .regional, areas: ["A4": 4], status: .retired)
            await #expect(throws: CoordinationError.expertNotAvailable) { try await f.service.offer(current, to: retired.requireID(), reason: "x", by: nationalCoordinator) }
            await #expect(throws: CoordinationError.workflow(.reasonRequired)) { try await f.service.offer(current, to: weak.requireID(), reason: " ", by: nationalCoordinator) }
            #expect(try await f.reload(request).workflowState == .matching)
            try await f.service.offer(current, to: national.requireID(), reason: "", by: nationalCoordinator)
            current = try await f.reload(request)
            let nationalOffer = try #require(try await f.service.openOffer(current, on: f.app.db))
            let uet = try await f.actor("coordinator.uet")
            #expect(!(try await f.service.contactsVisible(current, to: requester)), "contacts stay hidden until acceptance")
            try await f.service.respond(to: nationalOffer.requireID(), accept: true, by: uet)
            current = try await f.reload(request)
            #expect(current.workflowState == .accepted)
            #expect(try await f.service.contactsVisible(current, to: requester))
            #expect(try await f.service.contactsVisible(current, to: uet))
            #expect(!(try await f.service.contactsVisible(current, to: try await f.actor("staff.prishtina"))))
            // Plan, deliver, evaluate: the expert's quality rises and a draft knowledge case appears for them.
            await #expect(throws: FieldErrors.self) { try await f.service.plan(current, on: "someday", format: "workshop", by: uet) }
            try await f.service.plan(current, on: "2026-04-20", format: "workshop", by: uet)
            try await f.service.deliver(current, by: uet)
            let repository = RepositoryService(db: f.app.db, storage: f.app.fileStorage, index: f.app.searchIndex, maxUploadBytes: 1024)
            await #expect(throws: FieldErrors.self) { try await f.service.evaluate(current, rating: 6, text: "", by: requester, repository: repository) }
            try await f.service.evaluate(current, rating: 5, text: "Very practical.", by: requester, repository: repository)
            current = try await f.reload(request)
            #expect(current.workflowState == .evaluated)
            let profile = try #require(try await ExpertProfile.find(national.id, on: f.app.db))
            #expect(profile.quality == 1.0)
            let caseID = try #require(current.knowledgeCaseID)
            let draft = try #require(try await RepositoryRecord.find(caseID, on: f.app.db))
            #expect(draft.$owner.id == uet.userID)
            #expect(draft.publishedVersion == nil)
            let version = try #require(try await RecordVersion.query(on: f.app.db).filter(\.$record.$id == caseID).first())
            #expect(version.title.contains("COIL"))
            #expect(version.resourceType == "case_study")
        }
    }

    @Test("forbidden moves change nothing: accept in draft, double submit, withdraw after closing")
    func forbidden() async throws {
        try await withCoordination { f in
            let requester = try await f.actor("staff.tirana")
            var input = RequestInput()
            input.title = "Buddy programme"
            input.gap = "No buddies yet."
            input.areas = ["A5"]
            let request = try await f.service.create(input, by: requester)
            let coordinator = try await f.actor("coordinator.tirana")
            await #expect(throws: CoordinationError.workflow(.notAllowed(state: .draft, event: .accept))) {
                try await f.service.triage(request, event: .accept, note: "", by: coordinator)
            }
            try await f.service.submit(request, by: requester)
            await #expect(throws: (any Error).self) { try await f.service.submit(request, by: requester) }
            await #expect(throws: CoordinationError.workflow(.reasonRequired)) {
                try await f.service.triage(request, event: .reject, note: "", by: coordinator)
            }
            #expect(try await f.reload(request).workflowState == .submitted)
            try await f.service.withdraw(request, by: requester)
            #expect(try await f.reload(request).workflowState == .withdrawn)
            await #expect(throws: (any Error).self) { try await f.service.withdraw(request, by: requester) }
            // Windows that end before they start are refused.
            input.windowStart = "2026-05-10"
            input.windowEnd = "2026-05-01"
            await #expect(throws: FieldErrors.self) { _ = try await f.service.create(input, by: requester) }
        }
    }
}

@Suite("Coordination demo data", .serialized)
struct CoordinationDemoTests {
    @Test("experts at every network level and requests in every state, one escalated to national and one to regional level")
    func demo() async throws {
        try await withInterba(records: true, coordination: true) { app in
            let profiles = try await ExpertProfile.query(on: app.db).all()
            #expect(Set(profiles.filter { $0.status == .active }.map(\.level)) == Set(NetworkLevel.allCases))
            let states = Set(try await KnowledgeRequest.query(on: app.db).all().map(\.workflowState))
            #expect(states == Set(RfKState.allCases), "missing: \(Set(RfKState.allCases).subtracting(states))")
            let requests = try await KnowledgeRequest.query(on: app.db).all()
            #expect(requests.contains { $0.level == 2 && $0.workflowState == .matching })
            #expect(requests.contains { $0.level == 3 })
            // The evaluated deliveries created draft knowledge cases for their expert.
            #expect(requests.filter { $0.knowledgeCaseID != nil }.count == 2)
        }
    }
}

@Suite("Notifications", .serialized)
struct NotificationTests {
    @Test("offers, acceptances, escalations and deadline warnings reach the inbox; mail follows each person's choice per kind")
    func inbox() async throws {
        try await withCoordination { f in
            let expertProfile = try await f.expert("expert.tirana", level: .institutional, areas: ["A4": 4])
            // The expert turns off mail about offers; the inbox still gets them.
            let expertWeb = WebClient(f.app)
            try await expertWeb.signIn(demo("expert.tirana"))
            let kinds = AppNotification.Kind.allCases.filter { $0 != .offer }.map { ("mail[]", $0.rawValue) }
            #expect(try await expertWeb.post("/inbox/mail", kinds).status == .seeOther)
            let request = try await f.submittedRequest()
            // Four working days later the coordinator is warned once that the triage time is almost up.
            f.clock.advance(6 * 86400)
            try await f.service.sweep()
            try await f.service.sweep()
            let coordinatorUser = try await f.app.user(demo("coordinator.tirana"))
            let warnings = try await AppNotification.query(on: f.app.db).filter(\.$userID == coordinatorUser.requireID()).filter(\.$kind == .slaWarning).count()
            #expect(warnings == 1)
            let coordinator = try await f.actor("coordinator.tirana")
            try await f.service.triage(request, event: .accept, note: "", by: coordinator)
            try await f.service.offer(request, to: expertProfile.requireID(), reason: "", by: coordinator)
            let expertUser = try await f.app.user(demo("expert.tirana"))
            #expect(try await AppNotification.query(on: f.app.db).filter(\.$userID == expertUser.requireID()).filter(\.$kind == .offer).count() == 1)
            #expect(!f.mailer.sent.contains { $0.to == demo("expert.tirana") }, "the expert opted out of offer mails")
            // The header shows the unread count; the inbox lists the offer; opening it marks it read and follows the link.
            let page = try await expertWeb.get("/requests")
            #expect(page.body.string.contains("id=\"inbox-count\""))
            let inbox = try await expertWeb.get("/inbox")
            #expect(inbox.body.string.contains("Designing a COIL module"))
            let note = try #require(try await AppNotification.query(on: f.app.db).filter(\.$userID == expertUser.requireID()).first())
            let open = try await expertWeb.post("/inbox/\(note.id!.uuidString)/open", [])
            #expect(open.headers.first(name: .location) == "/requests/\(request.id!.uuidString)")
            #expect(try await AppNotification.find(note.id, on: f.app.db)?.readAt != nil)
            // Accepting tells the requester, by inbox and mail.
            let offer = try #require(try await f.service.openOffer(try await f.reload(request), on: f.app.db))
            try await f.service.respond(to: offer.requireID(), accept: true, by: try await f.actor("expert.tirana"))
            let staffUser = try await f.app.user(demo("staff.tirana"))
            #expect(try await AppNotification.query(on: f.app.db).filter(\.$userID == staffUser.requireID()).filter(\.$kind == .acceptance).count() == 1)
            #expect(f.mailer.sent.contains { $0.to == demo("staff.tirana") })
            // Someone else's notification cannot be opened.
            let other = WebClient(f.app)
            try await other.signIn(demo("staff.prishtina"))
            #expect(try await other.post("/inbox/\(note.id!.uuidString)/open", []).status == .notFound)
        }
    }
}
