import Fluent
import Vapor

/// The demo's training year: a train-the-trainers workshop in Tirana, a pilot training at every demo university with
/// attendance, evaluations and certificates (so the trained-academics list and portfolios are populated, with a few
/// re-trained academics), and upcoming events open for registration. Mails go only to the outbox.
struct DemoTraining {
    let app: Application
    let db: any Database

    /// Four academics per university who attend its pilot (names as they are written in each country).
    static let participants: [String: [String]] = [
        "tirana": ["Arta Hoxha", "Besnik Kola", "Elira Meta", "Genti Shehu"],
        "uet": ["Jonida Leka", "Klodian Dervishi", "Mirela Gjoka", "Ornela Bregu"],
        "prishtina": ["Arbër Krasniqi", "Blerta Gashi", "Drilon Berisha", "Vjosa Hyseni"],
        "tuzla": ["Amra Hasanović", "Dino Mehmedović", "Lejla Begić", "Tarik Omerović"],
        "mostar": ["Ivana Marić", "Josip Kovačević", "Maja Bošnjak", "Ante Jurić"],
        "montenegro": ["Milica Vuković", "Nikola Radović", "Jelena Perović", "Marko Šćekić"],
        "skopje": ["Ана Петровска", "Бојан Стојанов", "Елена Николовска", "Марко Трајков"],
        "novisad": ["Јована Ђорђевић", "Стефан Јовановић", "Teodora Ilić", "Luka Pavlović"],
        "middlesex": ["Hannah Clarke", "Samuel Okafor", "Priya Shah", "Tom Fletcher"],
        "cesie": ["Giulia Russo", "Marco Bianchi", "Francesca Greco", "Luca Romano"],
    ]

    static let zones = ["AL": "Europe/Tirane", "XK": "Europe/Belgrade", "BA": "Europe/Sarajevo", "ME": "Europe/Podgorica",
                        "MK": "Europe/Skopje", "RS": "Europe/Belgrade", "GB": "Europe/London", "IT": "Europe/Rome"]

    struct Quiet: Mailer {
        func send(_ message: MailMessage, on db: any Database) async throws { try await OutboxMailer().send(message, on: db) }
    }

    func service(at now: Date) -> TrainingService {
        TrainingService(db: db, mailer: Quiet(), catalog: app.catalog, baseURL: app.config.baseURL, now: { now })
    }

    func user(_ local: String) async throws -> User? {
        try await User.query(on: db).filter(\.$email == "\(local)@\(DemoSeeder.domain)").first()
    }

    func seed() async throws {
        guard try await TrainingEvent.query(on: db).count() == 0 else { return }
        let institutions = try await Institution.query(on: db).all()
        guard let tirana = institutions.first(where: { $0.slug == "tirana" }),
              let regional = try await user("regional"), let trainer = try await user("trainer.tirana"),
              let passwordHash = try await User.query(on: db).first()?.passwordHash else { return }
        let modules = try await TrainingModule.query(on: db).all()
        let ttt = modules.first { $0.kind == .trainTheTrainers }
        let shortGuide = modules.first { $0.slug == "preparing-a-short-training" }
        let regionalActor = try await Actor.load(for: regional, on: db)
        let now = Date()
        let day: TimeInterval = 86400

        // Academics of each university, with the staff role.
        var people: [String: [User]] = [:]
        for institution in institutions {
            guard let names = Self.participants[institution.slug] else { continue }
            var list: [User] = []
            for (index, name) in names.enumerated() {
                let email = "academic\(index + 1).\(institution.slug)@\(DemoSeeder.domain)"
                let user = User(email: email, name: name, passwordHash: passwordHash, status: .active, institutionID: institution.id, languages: ["en"])
                try await user.create(on: db)
                try await RoleAssignment(userID: user.requireID(), role: .staff, scopeID: institution.id!.uuidString, grantedByID: nil).create(on: db)
                list.append(user)
            }
            people[institution.slug] = list
        }

        func event(_ title: String, kind: TrainingEvent.Kind, at institution: Institution, module: TrainingModule?, areas: [String],
                   start: Date, sessions: Int, hours: Double, capacity: Int, trainers: [User], by actor: Actor, refresher: Bool = false) async throws -> TrainingEvent {
            let zone = TimeZone(identifier: Self.zones[institution.countryCode] ?? "Europe/Belgrade")!
            var input = EventInput()
            input.kind = kind.rawValue
            input.title = title
            input.description = module.map { localized($0.summary, .en) } ?? ""
            input.moduleID = module?.id?.uuidString ?? ""
            input.institutionID = institution.id!.uuidString
            input.areas = areas
            input.language = ["AL": "sq", "XK": "sq", "MK": "mk", "RS": "sr", "GB": "en", "IT": "en"][institution.countryCode] ?? "bs"
            input.timeZone = zone.identifier
            input.capacity = String(capacity)
            input.hours = String(hours)
            input.minAttendance = "75"
            input.requiresEvaluation = true
            input.isRefresher = refresher
            input.trainers = trainers.map(\.email).joined(separator: "\n")
            for index in 0..<sessions {
                let begin = start.addingTimeInterval(Double(index) * day)
                input.sessions.append(SessionInput(start: EventTime.input(begin, in: zone), end: EventTime.input(begin.addingTimeInterval(hours / Double(sessions) * 3600), in: zone),
                                                   venue: index == 0 ? "\(institution.shortName), seminar room" : "",
                                                   onlineURL: index == 0 ? "" : "https://meet.\(institution.slug).example.org/iah"))
            }
            return try await service(at: start.addingTimeInterval(-20 * day)).createEvent(input, by: actor)
        }

        /// Registers everyone, takes the roll (the `absent` people miss the last session) and collects evaluations.
        func run(_ event: TrainingEvent, participants: [User], absent: Set<UUID> = [], ratings: [Int] = [5, 4, 5, 4], actor: Actor) async throws {
            let sessions = try await service(at: now).sessions(of: event)
            guard let first = sessions.first, let last = sessions.last else { return }
            let before = service(at: first.startsAt.addingTimeInterval(-10 * day))
            for person in participants { try await before.register(event, user: person, waitlist: true) }
            let after = service(at: last.endsAt.addingTimeInterval(2 * 3600))
            for (index, session) in sessions.enumerated() {
                var marks: [UUID: SessionAttendance.Mark] = [:]
                for person in participants {
                    let missed = absent.contains(person.id!) && index >= sessions.count / 2
                    marks[person.id!] = missed ? (index % 2 == 0 ? .excused : .absent) : .present
                }
                try await after.recordAttendance(event, session: session, marks: marks, by: actor)
            }
            for (index, person) in participants.enumerated() {
                let personal = ratings.map { max(1, min(5, $0 - (index % 3 == 2 ? 1 : 0))) }
                try await after.evaluate(event, ratings: personal, comment: index == 0 ? "Practical and well organised; the examples from the region helped." : "",
                                         user: person)
            }
        }

        // The train-the-trainers workshop (regional, 75 days ago): one future trainer per university.
        let trainees = institutions.compactMap { people[$0.slug]?.first }
        let workshop = try await event("IaH train-the-trainers workshop, Tirana", kind: .trainTheTrainers, at: tirana, module: ttt,
                                       areas: ttt?.areas ?? ["A3", "A4", "A7"], start: now.addingTimeInterval(-75 * day), sessions: 2,
                                       hours: 16, capacity: 24, trainers: [trainer], by: regionalActor)
        try await run(workshop, participants: trainees, absent: Set(trainees.suffix(1).compactMap(\.id)), actor: regionalActor)

        // A pilot at every university, delivered by its trainee from the workshop (with the Tirana trainer at UT).
        let pilotAreas = [["A3"], ["A4"], ["A8"], ["A6"], ["A3", "A7"], ["A13"], ["A4", "A12"], ["A9"], ["A3"], ["A6", "A8"]]
        for (index, institution) in institutions.sorted(by: { $0.slug < $1.slug }).enumerated() {
            guard let academics = people[institution.slug], let coordinator = try await user("coordinator.\(institution.slug)") else { continue }
            let actor = try await Actor.load(for: coordinator, on: db)
            let pilotTrainers = institution.slug == "tirana" ? [academics[0], trainer] : [academics[0]]
            let pilot = try await event("Pilot: \(localized(shortGuide?.title ?? [:], .en).isEmpty ? "IaH short training" : "Internationalising the curriculum") · \(institution.shortName)",
                                        kind: .pilot, at: institution, module: nil, areas: pilotAreas[index % pilotAreas.count],
                                        start: now.addingTimeInterval(Double(-40 + index * 2) * day), sessions: 2, hours: 4, capacity: 20,
                                        trainers: pilotTrainers, by: actor)
            var attendees = Array(academics.dropFirst())
            if institution.slug == "tirana", let sara = try await user("staff.tirana") { attendees.append(sara) }
            if institution.slug == "prishtina", let staff = try await user("staff.prishtina") { attendees.append(staff) }
            // One academic misses the second session (so does not complete); the demo's staff accounts complete.
            try await run(pilot, participants: attendees, absent: Set([academics[academics.count - 1].id!]), ratings: [5, 5, 4, 4], actor: actor)
        }

        // A refresher in Tirana two weeks ago: its completions count as re-training.
        if let tiranaPeople = people["tirana"], let coordinator = try await user("coordinator.tirana") {
            let actor = try await Actor.load(for: coordinator, on: db)
            let refresher = try await event("Refresher: writing international learning outcomes", kind: .webinar, at: tirana, module: nil,
                                            areas: ["A3"], start: now.addingTimeInterval(-14 * day), sessions: 1, hours: 2, capacity: 40,
                                            trainers: [trainer], by: actor, refresher: true)
            try await run(refresher, participants: Array(tiranaPeople.dropFirst()), actor: actor)

            // Upcoming: a pilot with three places (two taken) and a webinar, both open for registration.
            let upcoming = try await event("Pilot: inclusive international classrooms", kind: .pilot, at: tirana, module: shortGuide,
                                           areas: ["A8"], start: now.addingTimeInterval(21 * day), sessions: 2, hours: 4, capacity: 3,
                                           trainers: [trainer], by: actor)
            let open = service(at: now)
            for person in tiranaPeople.prefix(2) { try await open.register(upcoming, user: person, waitlist: true) }
            _ = try await event("Webinar: COIL in practice", kind: .webinar, at: tirana, module: nil, areas: ["A4", "A13"],
                                start: now.addingTimeInterval(35 * day), sessions: 1, hours: 1.5, capacity: 100, trainers: [trainer], by: actor)
        }
    }
}
