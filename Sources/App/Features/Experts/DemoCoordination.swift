import Fluent
import Vapor

/// Demo data of the coordination model: experts at all three network levels across the demo institutions, and
/// Requests for Knowledge in every state, two of them escalated (to national and to regional level). Everything goes
/// through RequestService, so the trail of each request is the real one.
struct DemoCoordination {
    let app: Application
    let db: any Database

    struct ExpertSeed {
        var user: String
        var level: NetworkLevel
        var status: ExpertProfile.Status
        var areas: [String: Int]
        var languages: [String]
        var formats: [String]
        var bio: String
    }

    static let experts: [ExpertSeed] = [
        .init(user: "expert.tirana", level: .institutional, status: .active, areas: ["A4": 4, "A3": 3, "A13": 2], languages: ["sq", "en", "it"],
              formats: ["workshop", "mentoring", "course_review"], bio: "Coordinates COIL modules with Italian partners since 2019; trains colleagues in virtual exchange design."),
        .init(user: "trainer.tirana", level: .institutional, status: .active, areas: ["A7": 3, "A4": 2], languages: ["sq", "en"],
              formats: ["workshop", "webinar"], bio: "Runs the staff development programme on intercultural teaching."),
        .init(user: "coordinator.uet", level: .national, status: .active, areas: ["A1": 4, "A2": 3, "A11": 3], languages: ["sq", "en"],
              formats: ["consultation", "mentoring"], bio: "Wrote the IaH strategy of a private university and its indicator set."),
        .init(user: "coordinator.novisad", level: .national, status: .active, areas: ["A4": 3, "A13": 4], languages: ["sr-Cyrl", "sr-Latn", "en"],
              formats: ["workshop", "webinar"], bio: "Организовала је пет мешовитих интензивних програма са партнерима из ЕУ."),
        .init(user: "coordinator.skopje", level: .national, status: .active, areas: ["A8": 3, "A5": 3], languages: ["mk", "en"],
              formats: ["workshop", "consultation"], bio: "Води програм за инклузија и поддршка на меѓународни студенти."),
        .init(user: "expert.mostar", level: .regional, status: .active, areas: ["A6": 4, "A10": 3, "A9": 3], languages: ["bs", "hr", "en"],
              formats: ["workshop", "consultation", "mentoring"], bio: "Povezuje fakultete s lokalnim zajednicama i dijasporom; koordinirao tri Erasmus+ projekta."),
        .init(user: "coordinator.middlesex", level: .regional, status: .active, areas: ["A3": 4, "A7": 3], languages: ["en"],
              formats: ["course_review", "webinar"], bio: "Leads curriculum internationalisation reviews across programmes."),
        .init(user: "coordinator.cesie", level: .regional, status: .active, areas: ["A6": 3, "A8": 3], languages: ["it", "en"],
              formats: ["workshop"], bio: "Community-based learning and inclusion projects in Palermo."),
        .init(user: "staff.prishtina", level: .institutional, status: .nominated, areas: ["A5": 2], languages: ["sq", "en"],
              formats: ["mentoring"], bio: "Buddy programme volunteer coordinator."),
        .init(user: "coordinator.tuzla", level: .institutional, status: .paused, areas: ["A2": 3], languages: ["bs", "en"],
              formats: ["consultation"], bio: "On leave until next semester."),
    ]

    func actor(_ local: String) async throws -> Actor {
        guard let user = try await User.query(on: db).filter(\.$email == "\(local)@\(DemoSeeder.domain)").first() else {
            throw ConfigError("demo user \(local) is missing")
        }
        return try await Actor.load(for: user, on: db)
    }

    func seed() async throws {
        if try await ExpertProfile.query(on: db).count() > 0 { return }
        for seed in Self.experts {
            guard let user = try await User.query(on: db).filter(\.$email == "\(seed.user)@\(DemoSeeder.domain)").first(),
                  let institutionID = user.$institution.id else { continue }
            let profile = ExpertProfile()
            profile.$user.id = try user.requireID()
            profile.$institution.id = institutionID
            profile.status = seed.status
            profile.level = seed.level
            profile.source = seed.user.hasPrefix("staff") ? .signup : .coordinator
            profile.bio = seed.bio
            profile.languages = seed.languages
            profile.formats = seed.formats
            profile.capacity = 3
            profile.isPublic = seed.status == .active
            profile.ratingSum = 0
            profile.ratingCount = 0
            try await profile.create(on: db)
            for (area, level) in seed.areas {
                let c = ExpertCompetency()
                c.$expert.id = try profile.requireID()
                c.area = area
                c.proficiency = level
                c.evidence = seed.bio
                c.links = []
                try await c.create(on: db)
            }
        }
        try await seedRequests()
    }

    func expertID(_ local: String) async throws -> UUID {
        let user = try await actor(local)
        guard let profile = try await ExpertProfile.query(on: db).filter(\.$user.$id == user.userID).first() else { throw ConfigError("no profile for \(local)") }
        return try profile.requireID()
    }

    func seedRequests() async throws {
        let service = RequestService(db: db, mailer: OutboxMailer(), catalog: app.catalog, baseURL: app.config.baseURL)
        let repository = RepositoryService(db: db, storage: app.fileStorage, index: app.searchIndex, maxUploadBytes: app.config.maxUploadBytes)
        let staff = try await actor("staff.tirana")
        let tirana = try await actor("coordinator.tirana")
        let national = try await actor("national.al")
        let regional = try await actor("regional")
        let expert = try await actor("expert.tirana")
        func make(_ requester: Actor, _ title: String, _ gap: String, _ areas: [String], languages: [String] = ["en", "sq"],
                  formats: [String] = ["workshop"], consent: Bool = true) async throws -> KnowledgeRequest {
            var input = RequestInput()
            input.title = title
            input.gap = gap
            input.outcomes = "Colleagues can plan and run it on their own next semester."
            input.areas = areas
            input.languages = languages
            input.formats = formats
            input.audienceRole = "Academic staff"
            input.audienceSize = "15"
            input.consentToShare = consent
            return try await service.create(input, by: requester)
        }
        // draft
        _ = try await make(staff, "Buddy programme for incoming Erasmus students", "We have no structured buddy scheme.", ["A5"])
        // submitted
        let submitted = try await make(staff, "Internationalising the learning outcomes of the Economics bachelor", "Programme leaders do not know how to write global learning outcomes.", ["A3"])
        try await service.submit(submitted, by: staff)
        // late: submitted two weeks ago and never triaged; the sweep escalates it when the server starts, and the
        // dashboards list it among the requests whose time ran out
        let late = try await make(staff, "Intercultural competence in the nursing curriculum", "Clinical placements abroad are rare; students need intercultural skills at home.", ["A3", "A7"])
        try await service.submit(late, by: staff)
        late.levelSince = Date().addingTimeInterval(-14 * 86400)
        late.submittedAt = late.levelSince
        try await late.save(on: db)
        // needs information
        let needsInfo = try await make(staff, "Guest lectures by diaspora academics", "We lack contacts and a format.", ["A6"])
        try await service.submit(needsInfo, by: staff)
        try await service.triage(needsInfo, event: .requestInfo, note: "Which faculties, and in which semester?", by: tirana)
        // rejected
        let rejected = try await make(staff, "Funding for a study trip", "We need money for a trip abroad.", ["A13"])
        try await service.submit(rejected, by: staff)
        try await service.triage(rejected, event: .reject, note: "Travel funding is outside the network's scope; see the blended mobility guides.", by: tirana)
        // matching, offered, accepted, planned, delivered, evaluated, closed: one COIL path, stopped at each state
        func toMatching(_ title: String) async throws -> KnowledgeRequest {
            let request = try await make(staff, title, "Teachers want to run a COIL module with an Italian partner but have never done it.", ["A4"])
            try await service.submit(request, by: staff)
            try await service.triage(request, event: .accept, note: "", by: tirana)
            return request
        }
        _ = try await toMatching("Designing a first COIL module (Faculty of Law)")
        let offered = try await toMatching("Designing a first COIL module (Faculty of Economics)")
        try await service.offer(offered, to: try await expertID("expert.tirana"), reason: "", by: tirana)
        func accepted(_ title: String) async throws -> KnowledgeRequest {
            let request = try await toMatching(title)
            try await service.offer(request, to: try await expertID("expert.tirana"), reason: "", by: tirana)
            guard let offer = try await service.openOffer(request, on: db) else { throw ConfigError("no offer") }
            try await service.respond(to: try offer.requireID(), accept: true, by: expert)
            // respond() moved its own copy; continue from the stored state.
            guard let fresh = try await KnowledgeRequest.find(request.id, on: db) else { throw ConfigError("request vanished") }
            return fresh
        }
        _ = try await accepted("Designing a first COIL module (Faculty of Medicine)")
        let planned = try await accepted("Designing a first COIL module (Faculty of Engineering)")
        try await service.plan(planned, on: "2027-02-15", format: "workshop", by: expert)
        let delivered = try await accepted("Designing a first COIL module (Faculty of History)")
        try await service.plan(delivered, on: "2026-10-05", format: "workshop", by: expert)
        try await service.deliver(delivered, by: expert)
        let evaluated = try await accepted("Designing a first COIL module (Faculty of Natural Sciences)")
        try await service.plan(evaluated, on: "2026-09-20", format: "workshop", by: expert)
        try await service.deliver(evaluated, by: expert)
        try await service.evaluate(evaluated, rating: 5, text: "Hands-on and clear; two modules are planned.", by: staff, repository: repository)
        let closed = try await accepted("Designing a first COIL module (Faculty of Philology)")
        try await service.plan(closed, on: "2026-06-10", format: "workshop", by: expert)
        try await service.deliver(closed, by: expert)
        try await service.evaluate(closed, rating: 4, text: "Useful; more examples of assessment would help.", by: staff, repository: repository)
        try await service.triage(closed, event: .close, note: "", by: tirana)
        // withdrawn
        let withdrawn = try await make(staff, "Language tandem for staff", "Staff want to practise English.", ["A5"])
        try await service.submit(withdrawn, by: staff)
        try await service.withdraw(withdrawn, by: staff)
        // resolved by an existing record
        let reuse = try await make(staff, "Checklist for virtual exchange", "We need a checklist for virtual exchange.", ["A4"])
        try await service.submit(reuse, by: staff)
        if let record = try await RepositoryRecord.query(on: db).filter(\.$publishedVersion != nil).filter(\.$visibility == .public)
            .filter(\.$archivedAt == nil).first() {
            try await service.resolve(reuse, with: try record.requireID(), by: staff)
        }
        // escalated to national level: no institutional expert for strategy (A1) and the triage time lapsed
        let toNational = try await make(staff, "An IaH strategy and indicator set for the university", "Our senate wants an IaH strategy with indicators.", ["A1", "A11"], formats: ["consultation"])
        try await service.submit(toNational, by: staff)
        try await service.triage(toNational, event: .accept, note: "", by: tirana)
        try await service.passOn(toNational, on: db)
        // escalated to regional level: local-global engagement (A6), nobody in Albania; offered to the regional expert in Mostar
        let toRegional = try await make(staff, "Community projects with local NGOs in the curriculum", "Teachers want students to work on local challenges with NGOs.", ["A6"], languages: ["en"], formats: ["consultation"])
        try await service.submit(toRegional, by: staff)
        try await service.triage(toRegional, event: .accept, note: "", by: tirana)
        try await service.passOn(toRegional, on: db)
        try await service.passOn(toRegional, on: db)
        if toRegional.level == 3 {
            try await service.offer(toRegional, to: try await expertID("expert.mostar"), reason: "", by: regional)
        }
        _ = national
    }
}
