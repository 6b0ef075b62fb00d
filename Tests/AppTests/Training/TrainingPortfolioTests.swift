@testable import App
import Fluent
import Foundation
import Testing
import Vapor
import VaporTesting

func bearer(_ app: Application, for email: String) async throws -> HTTPHeaders {
    let service = AccountService(db: app.db, mailer: OutboxMailer(), catalog: app.catalog, baseURL: "http://test", audit: .system, bcryptCost: 4)
    let (_, secret) = try await service.createToken(for: try await app.user(email), name: "test")
    var headers = HTTPHeaders()
    headers.bearerAuthorization = BearerAuthorization(token: secret)
    return headers
}

@Suite("Training: demo, API, calendars, portfolios, trainer certification, module writing", .serialized)
struct TrainingPortfolioTests {
    @Test("trainer certification as a rule: train-the-trainers plus a pilot averaging at least 4.0 over at least 3 evaluations")
    func certificationRule() {
        #expect(TrainerCertification.qualifies(completedTrainTheTrainers: true, pilotMeans: [(4.0, 3)]))
        #expect(!TrainerCertification.qualifies(completedTrainTheTrainers: true, pilotMeans: [(3.9, 10)]))
        #expect(!TrainerCertification.qualifies(completedTrainTheTrainers: true, pilotMeans: [(5.0, 2)]))
        #expect(!TrainerCertification.qualifies(completedTrainTheTrainers: false, pilotMeans: [(5.0, 10)]))
        #expect(TrainerCertification.qualifies(completedTrainTheTrainers: true, pilotMeans: [(3.0, 5), (4.5, 4)]))
        #expect(!TrainerCertification.qualifies(completedTrainTheTrainers: true, pilotMeans: []))
    }

    @Test("the demo: a workshop, pilots everywhere, certificates, re-trained academics, certified trainers proposed as experts")
    func demoData() async throws {
        try await withInterba(training: true) { app in
            let kinds = try await TrainingEvent.query(on: app.db).all().map(\.kind.rawValue)
            #expect(kinds.filter { $0 == "train_the_trainers" }.count == 1)
            #expect(kinds.filter { $0 == "pilot" }.count >= 10)
            let institutions = try await Institution.query(on: app.db).count()
            let page = try await TrainedAcademics(db: app.db).page(TrainedAcademicsFilter(), limit: 10, offset: 0)
            #expect(page.perInstitution.count == institutions)
            #expect(page.retrainedPeople >= 3)
            #expect(try await Certificate.query(on: app.db).count() == page.total)
            // The per-person summary gives the same counts as a scan of every completion.
            let al = try await Country.query(on: app.db).filter(\.$code == "AL").count() > 0 ? "AL" : nil
            for filter in [TrainedAcademicsFilter(), TrainedAcademicsFilter(retrained: true), TrainedAcademicsFilter(retrained: false),
                           TrainedAcademicsFilter(country: al), TrainedAcademicsFilter(institutionID: try await app.institution("tirana").id, retrained: true)] {
                let fast = try await TrainedAcademics(db: app.db).page(filter, limit: 5, offset: 0)
                let scan = try await TrainedAcademics(db: app.db).page(filter, limit: 5, offset: 0, summary: false)
                #expect(fast.total == scan.total && fast.people == scan.people && fast.retrainedPeople == scan.retrainedPeople, "\(filter)")
                #expect(fast.perInstitution.map { "\($0.key) \($0.people) \($0.completions) \($0.retrained)" }
                        == scan.perInstitution.map { "\($0.key) \($0.people) \($0.completions) \($0.retrained)" }, "\(filter)")
                #expect(fast.rows.map(\.completionID) == scan.rows.map(\.completionID))
            }
            // The trainees who delivered a pilot evaluated ≥ 4 are certified and were proposed to their coordinators.
            let proposed = try await ExpertProfile.query(on: app.db).filter(\.$source == .trainerCertification).all()
            #expect(proposed.count >= 5)
            for profile in proposed { #expect(try await TrainerCertification(db: app.db).isCertified(profile.$user.id)) }
            #expect(try await AppNotification.query(on: app.db).filter(\.$title ~~ "certified").count() >= proposed.count)
        }
    }

    @Test("API: events, one event, certificates by code (malformed = unknown = 404), trained academics for coordinators only")
    func api() async throws {
        try await withInterba(training: true) { app in
            let events = try await app.testing().sendRequest(.GET, "/api/v1/events?kind=pilot")
            #expect(events.status == .ok)
            let list = try JSONSerialization.jsonObject(with: Data(events.body.readableBytesView)) as! [String: Any]
            let items = list["items"] as! [[String: Any]]
            #expect(list["total"] as? Int == items.count)
            #expect(items.allSatisfy { $0["kind"] as? String == "pilot" })
            #expect(items.first?["sessions"] as? [[String: Any]] != nil)
            let bad = try await app.testing().sendRequest(.GET, "/api/v1/events?kind=party")
            #expect(bad.status == .unprocessableEntity)
            #expect(bad.headers.first(name: .contentType)?.hasPrefix("application/problem+json") == true)
            let id = try #require(items.first?["id"] as? String)
            #expect(try await app.testing().sendRequest(.GET, "/api/v1/events/\(id)").status == .ok)

            let certificate = try #require(try await Certificate.query(on: app.db).first())
            let verified = try await app.testing().sendRequest(.GET, "/api/v1/certificates/\(CertificateRoutes.grouped(certificate.code))")
            let body = try JSONSerialization.jsonObject(with: Data(verified.body.readableBytesView)) as! [String: Any]
            #expect(body["status"] as? String == "valid")
            #expect(body["holder"] as? String == certificate.holderName)
            #expect(try await app.testing().sendRequest(.GET, "/api/v1/certificates/\(CertificateCode.make())").status == .notFound)
            #expect(try await app.testing().sendRequest(.GET, "/api/v1/certificates/x'%20OR%201=1").status == .notFound)

            #expect(try await app.testing().sendRequest(.GET, "/api/v1/trained-academics").status == .unauthorized)
            let staff = try await app.testing().sendRequest(.GET, "/api/v1/trained-academics", headers: try await bearer(app, for: demo("staff.tirana")))
            #expect(staff.status == .forbidden)
            let national = try await app.testing().sendRequest(.GET, "/api/v1/trained-academics?limit=5", headers: try await bearer(app, for: demo("national.al")))
            let trained = try JSONSerialization.jsonObject(with: Data(national.body.readableBytesView)) as! [String: Any]
            // A national coordinator sees their country only.
            #expect((trained["perCountry"] as! [[String: Any]]).map { $0["key"] as! String } == ["AL"])
            #expect((trained["items"] as! [[String: Any]]).count == min(5, trained["total"] as! Int))
            let regional = try await app.testing().sendRequest(.GET, "/api/v1/trained-academics?retrained=yes", headers: try await bearer(app, for: demo("regional")))
            let retrained = try JSONSerialization.jsonObject(with: Data(regional.body.readableBytesView)) as! [String: Any]
            #expect((retrained["items"] as! [[String: Any]]).allSatisfy { $0["retrained"] as? Bool == true })
        }
    }

    @Test("calendars: SEQUENCE rises with a change, a cancelled session is STATUS:CANCELLED, the personal feed needs its token")
    func calendars() async throws {
        try await withInterba { app in
            let coordinator = try await app.actor(demo("coordinator.tirana"))
            let service = app.trainingService()
            let event = try await service.createEvent(try await pilotInput(app, capacity: 5), by: coordinator)
            let path = "/events/\(event.id!.uuidString)/calendar.ics"
            let before = try await app.testing().sendRequest(.GET, path).body.string
            #expect(before.hasPrefix("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"))
            #expect(before.contains("BEGIN:VTIMEZONE\r\nTZID:Europe/Tirane"))
            #expect(before.components(separatedBy: "BEGIN:VEVENT").count == 3)
            #expect(before.contains("SEQUENCE:0") && !before.contains("STATUS:CANCELLED"))
            // Cancel the second session.
            var input = try await EventRoutes().input(from: event, Request(application: app, on: app.eventLoopGroup.next()))
            input.sessions[1].cancelled = true
            try await service.updateEvent(event, input, by: coordinator)
            let after = try await app.testing().sendRequest(.GET, path).body.string
            #expect(after.contains("STATUS:CANCELLED"))
            #expect(after.contains("SEQUENCE:1") && after.contains("SEQUENCE:2"))
            let uids = { (text: String) in text.components(separatedBy: "\r\n").filter { $0.hasPrefix("UID:") } }
            #expect(uids(before) == uids(after))

            let web = WebClient(app)
            try await web.signIn(demo("staff.tirana"))
            try await service.register(event, user: try await app.user(demo("staff.tirana")), waitlist: false)
            _ = try await web.post("/my/calendar", [])
            let feed = try #require(try await CalendarFeed.query(on: app.db).first())
            let personal = try await app.testing().sendRequest(.GET, "/calendars/people/\(feed.token)")
            #expect(personal.body.string.contains(event.title))
            #expect(try await app.testing().sendRequest(.GET, "/calendars/people/\(CertificateCode.make(bytes: 20))").status == .notFound)
            let institution = try await app.testing().sendRequest(.GET, "/calendars/institutions/\(event.$institution.id.uuidString)")
            #expect(institution.body.string.contains(event.title))
        }
    }

    @Test("portfolio: private until switched on, then public with attended trainings, certificates and badges")
    func portfolio() async throws {
        try await withInterba(training: true) { app in
            let sara = try await app.user(demo("staff.tirana"))
            let visitor = WebClient(app)
            #expect(try await visitor.get("/portfolio/\(sara.id!.uuidString)").status == .notFound)
            let web = WebClient(app)
            try await web.signIn(demo("staff.tirana"))
            let mine = try await web.get("/my/portfolio")
            #expect(mine.status == .ok)
            #expect(mine.body.string.contains("id=\"portfolio-attended\""))
            #expect(mine.body.string.contains("/badges/assertions/"))
            _ = try await web.post("/my/portfolio/visibility", [("public", "1")])
            let shown = try await visitor.get("/portfolio/\(sara.id!.uuidString)")
            #expect(shown.status == .ok)
            #expect(shown.body.string.contains(sara.name))
            #expect(!shown.body.string.contains("id=\"portfolio-visibility\""))
            _ = try await web.post("/my/portfolio/visibility", [("public", "0")])
            #expect(try await visitor.get("/portfolio/\(sara.id!.uuidString)").status == .notFound)
            // A certified trainer's portfolio says so and lists the pilot delivered.
            let trainer = try #require(try await ExpertProfile.query(on: app.db).filter(\.$source == .trainerCertification).with(\.$user).first()).user
            let trainerWeb = WebClient(app)
            try await trainerWeb.signIn(trainer.email)
            let page = try await trainerWeb.get("/my/portfolio").body.string
            #expect(page.contains("id=\"certified-trainer\""))
            #expect(page.contains("id=\"portfolio-delivered\""))
        }
    }

    @Test("writing modules: a trainer proposes, edits keep earlier versions once approved, coordinators approve and publish")
    func moduleWriting() async throws {
        try await withInterba { app in
            let trainer = WebClient(app)
            try await trainer.signIn(demo("trainer.tirana"))
            let rejected = try await trainer.post("/training/modules", [("language", "sq"), ("title", ""), ("hours", "x"), ("objectives", "Objektivat")])
            #expect(rejected.status == .unprocessableEntity)
            #expect(rejected.body.string.contains("Objektivat"))
            let created = try await trainer.post("/training/modules", [("language", "sq"), ("title", "Klasa gjithëpërfshirëse"), ("hours", "3"),
                                                                      ("areas[]", "A8"), ("kind", "module"), ("format", "workshop"),
                                                                      ("outcomes", "- përshkruan"), ("content", "<script>x</script>\n\n**Përmbajtja**")])
            #expect(created.status == .seeOther)
            let module = try #require(try await TrainingModule.query(on: app.db).filter(\.$state == .proposed).first())
            #expect(module.slug == "klasa-gjithepperfshirese" || module.slug.hasPrefix("klasa-gjith"))
            #expect(module.state == .proposed)
            #expect(module.title["sq"] == "Klasa gjithëpërfshirëse")
            let page = try await trainer.get("/training/modules/\(module.slug)").body.string
            #expect(page.contains("<strong>Përmbajtja</strong>"))
            #expect(!page.contains("<script>x"))
            // The trainer moves it into design and piloting but cannot approve it.
            #expect(try await trainer.post("/training/modules/\(module.slug)/state", [("state", "in_design")]).status == .seeOther)
            #expect(try await trainer.post("/training/modules/\(module.slug)/state", [("state", "piloted")]).status == .seeOther)
            #expect(try await trainer.post("/training/modules/\(module.slug)/state", [("state", "approved")]).status == .forbidden)
            let coordinator = WebClient(app)
            try await coordinator.signIn(demo("coordinator.tirana"))
            #expect(try await coordinator.post("/training/modules/\(module.slug)/state", [("state", "approved")]).status == .seeOther)
            #expect(try await coordinator.post("/training/modules/\(module.slug)/state", [("state", "published")]).status == .seeOther)
            // Skipping states is refused.
            _ = try await coordinator.post("/training/modules/\(module.slug)/state", [("state", "piloted")])
            #expect(try await TrainingModule.find(module.id, on: app.db)?.state == .published)
            // An edit of the published module keeps version 1.
            #expect(try await coordinator.post("/training/modules/\(module.slug)/edit", [("language", "en"), ("title", "Inclusive classrooms"),
                                                                                         ("hours", "3"), ("areas[]", "A8"), ("kind", "module"), ("format", "workshop")]).status == .seeOther)
            let edited = try #require(try await TrainingModule.find(module.id, on: app.db))
            #expect(edited.version == 2)
            #expect(edited.title == ["sq": "Klasa gjithëpërfshirëse", "en": "Inclusive classrooms"])
            let old = try await trainer.get("/training/modules/\(module.slug)/v/1")
            #expect(old.status == .ok)
            #expect(old.body.string.contains("id=\"old-version-notice\""))
        }
    }
}
