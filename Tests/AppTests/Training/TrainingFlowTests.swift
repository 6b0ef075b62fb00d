@testable import App
import Fluent
import Foundation
import Testing
import Vapor
import VaporTesting

/// A pilot training at Tirana: two sessions next week (or, with `offset`, elsewhere in time).
func pilotInput(_ app: Application, capacity: Int = 2, offsetDays: Double = 7, trainers: String = "", approval: Bool = false) async throws -> EventInput {
    let tirana = try await app.institution("tirana")
    let zone = TimeZone(identifier: "Europe/Tirane")!
    let first = Date().addingTimeInterval(offsetDays * 86400)
    func local(_ date: Date) -> String { EventTime.input(date, in: zone) }
    var input = EventInput()
    input.kind = "pilot"
    input.title = "Pilot: internationalising learning outcomes"
    input.institutionID = tirana.id!.uuidString
    input.areas = ["A3", "A7"]
    input.language = "sq"
    input.timeZone = "Europe/Tirane"
    input.capacity = String(capacity)
    input.hours = "6"
    input.minAttendance = "50"
    input.requiresEvaluation = true
    input.requiresApproval = approval
    input.trainers = trainers
    input.sessions = [
        SessionInput(start: local(first), end: local(first.addingTimeInterval(3 * 3600)), venue: "Room 12, Rectorate"),
        SessionInput(start: local(first.addingTimeInterval(86400)), end: local(first.addingTimeInterval(86400 + 3 * 3600)), onlineURL: "https://meet.example.org/iah"),
    ]
    return input
}

extension Application {
    func trainingService(now: Date = Date(), mailer: (any Mailer)? = nil) -> TrainingService {
        TrainingService(db: db, mailer: mailer ?? self.mailer, catalog: catalog, baseURL: config.baseURL, now: { now })
    }

    func actor(_ email: String) async throws -> Actor {
        try await Actor.load(for: try await user(email), on: db)
    }
}

@Suite("Training events", .serialized)
struct TrainingFlowTests {
    @Test("the waiting list: full → offered the list → a cancellation promotes the first in line, who gets a mail")
    func waitingList() async throws {
        let mailer = RecordingMailer()
        try await withInterba(mailer: mailer) { app in
            let service = app.trainingService()
            let event = try await service.createEvent(try await pilotInput(app), by: try await app.actor(demo("coordinator.tirana")))
            let sara = try await app.user(demo("staff.tirana")), mira = try await app.user(demo("staff.prishtina")), ana = try await app.user(demo("staff.skopje"))
            #expect(try await service.register(event, user: sara, waitlist: false).status == .registered)
            #expect(try await service.register(event, user: mira, waitlist: false).status == .registered)
            await #expect(throws: TrainingError.full) { try await service.register(event, user: ana, waitlist: false) }
            #expect(try await service.register(event, user: ana, waitlist: true).status == .waitlisted)
            await #expect(throws: TrainingError.alreadyRegistered) { try await service.register(event, user: sara, waitlist: true) }
            try await service.cancel(event, user: mira)
            let statuses = try await EventRegistration.query(on: app.db).filter(\.$event.$id == event.requireID()).with(\.$user).all()
                .reduce(into: [String: EventRegistration.Status]()) { $0[$1.user.email] = $1.status }
            #expect(statuses == [sara.email: .registered, mira.email: .cancelled, ana.email: .registered])
            #expect(mailer.sent.contains { $0.to == ana.email && $0.subject.contains("place") })
            await #expect(throws: TrainingError.notRegistered) { try await service.cancel(event, user: mira) }
            // Cancelling again after a cancellation lets the person register anew (a place is free? no: full again → list).
            #expect(try await service.register(event, user: mira, waitlist: true).status == .waitlisted)
        }
    }

    @Test("concurrent cancellations promote exactly as many as places freed, in waiting-list order")
    func concurrentCancellations() async throws {
        try await withInterba { app in
            let service = app.trainingService()
            let event = try await service.createEvent(try await pilotInput(app, capacity: 3), by: try await app.actor(demo("coordinator.tirana")))
            var people: [User] = []
            for index in 0..<9 {
                let user = User(email: "p\(index)@example.org", name: "Participant \(index)", passwordHash: "x", status: .active, institutionID: nil)
                try await user.create(on: app.db)
                people.append(user)
                try await service.register(event, user: user, waitlist: true)
            }
            // Three hold places, six wait; the three cancel at once.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for user in people.prefix(3) { group.addTask { try await service.cancel(event, user: user) } }
                try await group.waitForAll()
            }
            let rows = try await EventRegistration.query(on: app.db).filter(\.$event.$id == event.requireID()).sort(\.$position).with(\.$user).all()
            #expect(rows.filter { $0.status == .registered }.map(\.user.name) == ["Participant 3", "Participant 4", "Participant 5"])
            #expect(rows.filter { $0.status == .waitlisted }.map(\.user.name) == ["Participant 6", "Participant 7", "Participant 8"])
            #expect(rows.filter { $0.status == .cancelled }.count == 3)
        }
    }

    @Test("attendance, evaluation and the completion rule issue one certificate; the trained-academics list counts it")
    func completionAndCertificate() async throws {
        let mailer = RecordingMailer()
        try await withInterba(mailer: mailer) { app in
            let coordinator = try await app.actor(demo("coordinator.tirana"))
            let before = app.trainingService()
            let event = try await before.createEvent(try await pilotInput(app, capacity: 5, trainers: demo("trainer.tirana")), by: coordinator)
            let sara = try await app.user(demo("staff.tirana"))
            let mira = try await app.user(demo("staff.prishtina"))
            try await before.register(event, user: sara, waitlist: false)
            try await before.register(event, user: mira, waitlist: false)
            let sessions = try await before.sessions(of: event)
            // Evaluating before the event has started is refused.
            await #expect(throws: TrainingError.evaluationTooEarly) { try await before.evaluate(event, ratings: [5, 5, 5, 5], comment: "", user: sara) }
            // During the first session the trainer takes the roll; after the second, the rest.
            let during = app.trainingService(now: sessions[0].startsAt.addingTimeInterval(600), mailer: mailer)
            let trainer = try await app.actor(demo("trainer.tirana"))
            try await during.recordAttendance(event, session: sessions[0], marks: [sara.id!: .present, mira.id!: .absent], by: trainer)
            // Staff cannot take the roll.
            await #expect(throws: Forbidden.self) {
                try await during.recordAttendance(event, session: sessions[0], marks: [sara.id!: .present], by: try await app.actor(demo("staff.skopje")))
            }
            let after = app.trainingService(now: sessions[1].endsAt.addingTimeInterval(3600), mailer: mailer)
            // 1 of 2 sessions = 50 %: enough, but the evaluation is missing → no certificate yet.
            #expect(try await after.updateCompletion(event, userID: sara.id!) == nil)
            await #expect(throws: FieldErrors.self) { try await after.evaluate(event, ratings: [5, 0, 4, 4], comment: "", user: sara) }
            try await after.evaluate(event, ratings: [5, 4, 4, 3], comment: "Very practical.", user: sara)
            await #expect(throws: TrainingError.alreadyEvaluated) { try await after.evaluate(event, ratings: [5, 5, 5, 5], comment: "", user: sara) }
            let certificates = try await Certificate.query(on: app.db).all()
            #expect(certificates.count == 1)
            let certificate = try #require(certificates.first)
            #expect(certificate.holderName == sara.name)
            #expect(certificate.hours == 6)
            #expect(mailer.sent.contains { $0.to == sara.email && $0.body.contains("/certificates/\(certificate.code)") })
            // Mira evaluated but was absent: no completion.
            try await after.evaluate(event, ratings: [3, 3, 3, 3], comment: "", user: mira)
            #expect(try await TrainingCompletion.query(on: app.db).count() == 1)
            // A second completion in an area already completed counts as re-training.
            let second = try await before.createEvent(try await pilotInput(app, capacity: 5), by: coordinator)
            try await before.register(second, user: sara, waitlist: false)
            let secondSessions = try await before.sessions(of: second)
            let later = app.trainingService(now: secondSessions[1].endsAt.addingTimeInterval(60))
            try await later.recordAttendance(second, session: secondSessions[0], marks: [sara.id!: .present], by: coordinator)
            try await later.recordAttendance(second, session: secondSessions[1], marks: [sara.id!: .present], by: coordinator)
            try await later.evaluate(second, ratings: [4, 4, 4, 4], comment: "", user: sara)
            let completions = try await TrainingCompletion.query(on: app.db).all()
            #expect(completions.first { $0.$event.id == event.id }?.retrained == false)
            #expect(completions.first { $0.$event.id == second.id }?.retrained == true)
            let page = try await TrainedAcademics(db: app.db).page(TrainedAcademicsFilter(), limit: 50, offset: 0)
            #expect(page.total == 2)
            #expect(page.people == 1)
            #expect(page.retrainedPeople == 1)
            #expect(page.perCountry.map(\.key) == ["AL"])
            #expect(page.perInstitution.first?.people == 1)
            let filtered = try await TrainedAcademics(db: app.db).page(TrainedAcademicsFilter(country: "XK"), limit: 50, offset: 0)
            #expect(filtered.total == 0)
            let retrainedOnly = try await TrainedAcademics(db: app.db).page(TrainedAcademicsFilter(area: "A7", retrained: true), limit: 50, offset: 0)
            #expect(retrainedOnly.total == 1)
        }
    }

    @Test("bad input: sessions ending before they start, trainers without accounts, registration outside the window, check-in outside the session")
    func badInput() async throws {
        try await withInterba { app in
            let service = app.trainingService()
            let coordinator = try await app.actor(demo("coordinator.tirana"))
            var input = try await pilotInput(app, trainers: "nobody@example.org")
            input.sessions[0].end = "2020-01-01T10:00"
            input.capacity = "0"
            do {
                _ = try await service.createEvent(input, by: coordinator)
                Issue.record("an invalid event was saved")
            } catch let errors as FieldErrors {
                #expect(errors["session_0"] == "training.error.session-order")
                #expect(errors["trainers"] == "training.error.trainers")
                #expect(errors["capacity"] == "training.error.capacity")
            }
            #expect(try await TrainingEvent.query(on: app.db).count() == 0)
            // Staff may not create events.
            await #expect(throws: Forbidden.self) { _ = try await service.createEvent(try await pilotInput(app), by: try await app.actor(demo("staff.tirana"))) }
            // Registration after the window closed.
            var closed = try await pilotInput(app)
            closed.registrationCloses = EventTime.input(Date().addingTimeInterval(-3600), in: TimeZone(identifier: "Europe/Tirane")!)
            let event = try await service.createEvent(closed, by: coordinator)
            await #expect(throws: TrainingError.registrationClosed) { try await service.register(event, user: try await app.user(demo("staff.tirana")), waitlist: false) }
            // The organiser may still add someone by email; unknown addresses are refused with a field message.
            let added = try await service.addParticipant(event, email: demo("staff.tirana").uppercased(), by: coordinator)
            #expect(added.status == .registered)
            await #expect(throws: FieldErrors.self) { _ = try await service.addParticipant(event, email: "ghost@example.org", by: coordinator) }
            // Check-in: the right code outside the window, a wrong code inside it.
            let session = try #require(try await service.sessions(of: event).first)
            let sara = try await app.user(demo("staff.tirana"))
            await #expect(throws: TrainingError.checkInClosed) { try await service.checkIn(event, session: session, code: session.checkinCode, user: sara) }
            let during = app.trainingService(now: session.startsAt.addingTimeInterval(60))
            await #expect(throws: TrainingError.wrongCheckInCode) { try await during.checkIn(event, session: session, code: "WRONG", user: sara) }
            try await during.checkIn(event, session: session, code: session.checkinCode, user: sara)
            #expect(try await SessionAttendance.query(on: app.db).filter(\.$userID == sara.id!).first()?.mark == .present)
        }
    }

    @Test("pages: the event form keeps what was typed, registration through the page, the roll call, the certificate, verification and the Open Badge")
    func pages() async throws {
        try await withInterba { app in
            let coordinator = WebClient(app)
            try await coordinator.signIn(demo("coordinator.tirana"))
            #expect(try await coordinator.get("/events/new").status == .ok)
            let tirana = try await app.institution("tirana")
            let rejected = try await coordinator.post("/events", [
                ("kind", "pilot"), ("title", "Inclusive classrooms"), ("institution", tirana.id!.uuidString), ("language", "sq"),
                ("time_zone", "Europe/Tirane"), ("capacity", "12"), ("hours", "3"), ("min_attendance", "75"),
                ("session_id[]", ""), ("session_start[]", "2027-03-10T14:00"), ("session_end[]", "2027-03-10T12:00"),
                ("session_venue[]", "Aula Magna"), ("session_url[]", ""), ("trainers", "")])
            #expect(rejected.status == .unprocessableEntity)
            let html = rejected.body.string
            #expect(html.contains("value=\"Inclusive classrooms\""))
            #expect(html.contains("value=\"Aula Magna\""))
            #expect(html.contains("value=\"2027-03-10T14:00\""))
            #expect(html.contains("id=\"form-errors\""))
            let saved = try await coordinator.post("/events", [
                ("kind", "pilot"), ("title", "Inclusive classrooms"), ("institution", tirana.id!.uuidString), ("language", "sq"),
                ("areas[]", "A8"), ("time_zone", "Europe/Tirane"), ("capacity", "1"), ("hours", "3"), ("min_attendance", "100"),
                ("session_id[]", ""), ("session_start[]", "2027-03-10T10:00"), ("session_end[]", "2027-03-10T13:00"),
                ("session_venue[]", "Aula Magna"), ("session_url[]", ""), ("trainers", "")])
            #expect(saved.status == .seeOther)
            let location = try #require(saved.headers.first(name: .location))
            let event = try #require(try await TrainingEvent.query(on: app.db).filter(\.$title == "Inclusive classrooms").first())
            #expect(location == "/events/\(event.id!.uuidString)")
            #expect(event.minAttendance == 1)
            // The session was entered in Tirana time: 10:00 CET is 09:00 UTC.
            let session = try #require(try await TrainingService(db: app.db, mailer: app.mailer, catalog: app.catalog, baseURL: "").sessions(of: event).first)
            #expect(ISO8601DateFormatter().string(from: session.startsAt) == "2027-03-10T09:00:00Z")

            let sara = WebClient(app)
            try await sara.signIn(demo("staff.tirana"))
            #expect(try await sara.post(location + "/register", []).status == .seeOther)
            let mira = WebClient(app)
            try await mira.signIn(demo("staff.prishtina"))
            let full = try await mira.get(location)
            #expect(full.body.string.contains("id=\"join-waitlist\""))
            _ = try await mira.post(location + "/register", [])
            #expect(try await mira.get(location).body.string.contains("training.error.full") == false)
            #expect(try await EventRegistration.query(on: app.db).filter(\.$event.$id == event.id!).count() == 1)
            _ = try await mira.post(location + "/register", [("waitlist", "1")])
            #expect(try await mira.get(location).body.string.contains("state-waitlisted"))

            let page = try await coordinator.get(location)
            #expect(page.body.string.contains("id=\"participants\""))
            #expect(page.body.string.contains("Sara"))
            let rollCall = try await coordinator.get(location + "/sessions/\(session.id!.uuidString)/roll-call")
            #expect(rollCall.status == .ok)
            #expect(try await sara.get(location + "/sessions/\(session.id!.uuidString)/roll-call").status == .forbidden)
            #expect(try await coordinator.get(location + "/sessions/\(session.id!.uuidString)/qr").body.string.contains("<svg"))

            // The calendar of the event.
            let ics = try await sara.get(location + "/calendar.ics")
            #expect(ics.headers.contentType?.description.hasPrefix("text/calendar") == true)
            #expect(ics.body.string.contains("DTSTART;TZID=Europe/Tirane:20270310T100000"))
            #expect(ics.body.string.contains("UID:session-\(session.id!.uuidString.lowercased())@interba"))
        }
    }

    @Test("certificates: printable page, PDF, verification (unknown and malformed codes look the same), revocation, Open Badges 2.0")
    func certificates() async throws {
        try await withInterba { app in
            let coordinator = try await app.actor(demo("coordinator.tirana"))
            let service = app.trainingService()
            var input = try await pilotInput(app, capacity: 5)
            input.requiresEvaluation = false
            let event = try await service.createEvent(input, by: coordinator)
            let sara = try await app.user(demo("staff.tirana"))
            try await service.register(event, user: sara, waitlist: false)
            let sessions = try await service.sessions(of: event)
            let after = app.trainingService(now: sessions[1].endsAt.addingTimeInterval(60))
            try await after.recordAttendance(event, session: sessions[0], marks: [sara.id!: .present], by: coordinator)
            let certificate = try #require(try await Certificate.query(on: app.db).first())
            let visitor = WebClient(app)
            let verify = try await visitor.get("/verify/\(CertificateRoutes.grouped(certificate.code).lowercased())")
            #expect(verify.status == .ok)
            #expect(verify.body.string.contains(sara.name))
            #expect(verify.body.string.contains("state-valid"))
            let unknown = try await visitor.get("/verify/\(CertificateCode.make())")
            let malformed = try await visitor.get("/verify/%3Cscript%3E")
            #expect(unknown.status == .notFound && malformed.status == .notFound)
            #expect(unknown.body.string.contains("id=\"verify-result\"") && malformed.body.string.contains("id=\"verify-result\""))
            #expect(!malformed.body.string.contains("<script>"))
            let pdf = try await visitor.get("/certificates/\(certificate.code)/certificate.pdf")
            #expect(pdf.headers.contentType?.description == "application/pdf")
            #expect(pdf.body.string.hasPrefix("%PDF-"))
            #expect(pdf.body.readableBytes > 2000)

            // Open Badges: assertion, badge class, issuer, field by field.
            let assertion = try await visitor.get("/badges/assertions/\(certificate.code)")
            #expect(assertion.headers.first(name: .contentType)?.hasPrefix("application/ld+json") == true)
            let json = try #require(try JSONSerialization.jsonObject(with: Data(assertion.body.readableBytesView)) as? [String: Any])
            let base = app.config.baseURL
            #expect(json["@context"] as? String == "https://w3id.org/openbadges/v2")
            #expect(json["type"] as? String == "Assertion")
            #expect(json["id"] as? String == "\(base)/badges/assertions/\(certificate.code)")
            let recipient = try #require(json["recipient"] as? [String: Any])
            #expect(recipient["type"] as? String == "email")
            #expect(recipient["hashed"] as? Bool == true)
            #expect(recipient["salt"] as? String == certificate.badgeSalt)
            #expect(recipient["identity"] as? String == OpenBadges.hashedIdentity(email: sara.email, salt: certificate.badgeSalt))
            #expect((json["verification"] as? [String: Any])?["type"] as? String == "hosted")
            #expect((json["issuedOn"] as? String).flatMap { ISO8601DateFormatter().date(from: $0) } != nil)
            #expect(json["revoked"] == nil)
            let badgeURL = try #require(json["badge"] as? String)
            let badge = try await visitor.get(String(badgeURL.dropFirst(base.count)))
            let badgeJSON = try #require(try JSONSerialization.jsonObject(with: Data(badge.body.readableBytesView)) as? [String: Any])
            #expect(badgeJSON["type"] as? String == "BadgeClass")
            #expect(badgeJSON["id"] as? String == badgeURL)
            for field in ["name", "description", "image", "issuer"] { #expect((badgeJSON[field] as? String)?.isEmpty == false, "BadgeClass.\(field)") }
            #expect(((badgeJSON["criteria"] as? [String: Any])?["narrative"] as? String)?.isEmpty == false)
            let image = try await visitor.get(String((badgeJSON["image"] as! String).dropFirst(base.count)))
            #expect(image.status == .ok && image.body.string.hasPrefix("<svg"))
            let issuerURL = try #require(badgeJSON["issuer"] as? String)
            let issuer = try await visitor.get(String(issuerURL.dropFirst(base.count)))
            let issuerJSON = try #require(try JSONSerialization.jsonObject(with: Data(issuer.body.readableBytesView)) as? [String: Any])
            #expect(issuerJSON["type"] as? String == "Issuer")
            #expect(issuerJSON["id"] as? String == issuerURL)
            #expect((issuerJSON["name"] as? String)?.isEmpty == false)
            #expect((issuerJSON["url"] as? String)?.hasPrefix("http") == true)

            // Revocation: a reason is required, staff cannot revoke, the verification page and the assertion say so.
            let web = WebClient(app)
            try await web.signIn(demo("coordinator.tirana"))
            let empty = try await web.post("/certificates/\(certificate.code)/revoke", [("reason", " ")])
            #expect(empty.status == .unprocessableEntity)
            let staff = WebClient(app)
            try await staff.signIn(demo("staff.skopje"))
            #expect(try await staff.post("/certificates/\(certificate.code)/revoke", [("reason", "x")]).status == .forbidden)
            #expect(try await web.post("/certificates/\(certificate.code)/revoke", [("reason", "Attendance recorded by mistake")]).status == .seeOther)
            let revoked = try await visitor.get("/verify/\(certificate.code)")
            #expect(revoked.body.string.contains("state-revoked"))
            #expect(revoked.body.string.contains("Attendance recorded by mistake"))
            let gone = try await visitor.get("/badges/assertions/\(certificate.code)")
            #expect(gone.status == .gone)
            let goneJSON = try #require(try JSONSerialization.jsonObject(with: Data(gone.body.readableBytesView)) as? [String: Any])
            #expect(goneJSON["revoked"] as? Bool == true)
            #expect(goneJSON["revocationReason"] as? String == "Attendance recorded by mistake")
        }
    }

    @Test("toolkit: the shipped modules in English, Albanian, Serbian (Latin and Cyrillic) and Macedonian, rendered safely")
    func modules() async throws {
        try await withInterba { app in
            let modules = try await TrainingModule.query(on: app.db).all()
            #expect(Set(modules.map(\.slug)) == ["preparing-a-short-training", "writing-a-request-for-knowledge", "iah-train-the-trainers"])
            for module in modules {
                for language in ["en", "sq", "sr-Latn", "sr-Cyrl", "mk"] {
                    #expect(module.title[language]?.isEmpty == false, "\(module.slug) title \(language)")
                    for section in TrainingModule.sections { #expect(module.sections[section]?[language]?.isEmpty == false, "\(module.slug) \(section) \(language)") }
                }
            }
            let web = WebClient(app)
            web.acceptLanguage = "mk"
            let page = try await web.get("/training/modules/writing-a-request-for-knowledge")
            #expect(page.status == .ok)
            let mk = try #require(modules.first { $0.slug == "writing-a-request-for-knowledge" }?.title["mk"])
            #expect(page.body.string.contains(mk))
            #expect(page.body.string.contains("<li>"))
            // Serbian Cyrillic readers get the Serbian text, not the Macedonian fallback.
            let serbian = WebClient(app)
            serbian.acceptLanguage = "sr-Cyrl"
            let cyrillic = try #require(modules.first { $0.slug == "writing-a-request-for-knowledge" }?.title["sr-Cyrl"])
            #expect(cyrillic != mk)
            #expect(try await serbian.get("/training/modules/writing-a-request-for-knowledge").body.string.contains(cyrillic))
            #expect(try await web.get("/training").status == .ok)
            #expect(try await web.get("/events").status == .ok)
        }
    }
}
