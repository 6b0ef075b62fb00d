import Fluent
import Vapor

/// Demo needs-analysis campaigns with generated, plausible answers, analysed so a newcomer sees real charts:
/// an institutional campaign at the University of Tirana and at the University of Prishtina, a regional one
/// across the Western Balkan partners, and an open one at the European University of Tirana.
struct DemoCampaigns {
    /// A small deterministic generator, so the demo looks the same on every machine.
    struct Random {
        var state: UInt64
        mutating func next() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 53)
        }
        mutating func score(around mean: Double) -> Int {
            let noise = (next() + next() + next() - 1.5) * 1.6
            return min(5, max(1, Int((mean + noise).rounded())))
        }
    }

    let app: Application
    let db: any Database

    func seed(admin: Actor, institutions: [String: UUID]) async throws {
        guard let instrument = try await Instrument.query(on: db).filter(\.$code == "iah-default").sort(\.$version, .descending).first() else { return }
        let service = CampaignService(db: db, mailer: OutboxMailer(), catalog: app.catalog, baseURL: app.config.baseURL, audit: .system,
                                      now: { Date() })
        var random = Random(state: 20_261_129)
        let year = Calendar(identifier: .gregorian).component(.year, from: Date())
        let spring = "\(year)-03-01", summer = "\(year)-04-15"

        func make(_ title: String, scope: Campaign.Scope, scopeID: String, targets: [UUID], groups: [String]) async throws -> Campaign {
            try await service.create(.init(title: title, instrumentID: instrument.id, scope: scope.rawValue, scopeID: scopeID,
                                           targetInstitutions: targets, groups: groups, opensOn: spring, closesOn: summer, minimumGroupSize: "5"),
                                     by: admin)
        }

        func answer(_ campaign: Campaign, institution: UUID, perGroup: [String: Int], profile: Int) async throws {
            let definition = instrument.definition
            var responses: [SurveyResponse] = []
            var answers: [SurveyAnswer] = []
            for (group, count) in perGroup.sorted(by: { $0.key < $1.key }) {
                for _ in 0..<count {
                    let response = SurveyResponse()
                    response.id = UUID()
                    response.$campaign.id = try campaign.requireID()
                    response.institutionID = institution
                    response.group = group
                    response.submittedOn = "\(year)-04-0\(1 + Int(random.next() * 9))"
                    responses.append(response)
                    for section in definition.sections(for: group) {
                        guard let area = section.area, let areaNumber = Int(area.dropFirst()) else { continue }
                        // Each institution has its own pattern of strong and weak areas; groups disagree a little.
                        let importance = 3.4 + Double((areaNumber * 7 + profile * 3) % 5) * 0.3 + (group == "students" ? -0.2 : 0.1)
                        let performance = 1.9 + Double((areaNumber * 5 + profile * 11) % 6) * 0.35 + (group == "management" ? 0.4 : 0)
                        for item in section.items where item.kind == .importancePerformance {
                            let value = SurveyAnswer()
                            value.$response.id = response.id!
                            value.campaignID = try campaign.requireID()
                            value.group = group
                            value.institutionID = institution
                            value.itemCode = item.code
                            value.areaCode = area
                            value.importance = random.score(around: importance)
                            value.performance = random.score(around: performance)
                            answers.append(value)
                        }
                    }
                }
            }
            try await responses.create(on: db)
            for chunk in stride(from: 0, to: answers.count, by: 500) {
                try await Array(answers[chunk..<min(chunk + 500, answers.count)]).create(on: db)
            }
        }

        func finish(_ campaign: Campaign, feasibility: [String: Double], strategic: Set<String>) async throws {
            campaign.state = .open
            try await campaign.save(on: db)
            try await service.close(campaign, by: admin)
            try await service.analyse(campaign, feasibility: feasibility, strategic: strategic, by: admin)
        }

        let groups = ["management", "academic_staff", "administrative_staff", "students"]
        if let tirana = institutions["tirana"] {
            let campaign = try await make("IaH needs analysis \(year) — University of Tirana", scope: .institution, scopeID: tirana.uuidString,
                                          targets: [tirana], groups: groups)
            try await answer(campaign, institution: tirana, perGroup: ["management": 6, "academic_staff": 24, "administrative_staff": 12, "students": 30], profile: 1)
            try await finish(campaign, feasibility: ["A4": 0.75, "A7": 0.75, "A12": 0.25], strategic: ["A3", "A4"])
        }
        if let prishtina = institutions["prishtina"] {
            let campaign = try await make("IaH needs analysis \(year) — University of Prishtina", scope: .institution, scopeID: prishtina.uuidString,
                                          targets: [prishtina], groups: groups)
            // Only 3 managers answered: their group is suppressed everywhere.
            try await answer(campaign, institution: prishtina, perGroup: ["management": 3, "academic_staff": 18, "administrative_staff": 9, "students": 22], profile: 2)
            try await finish(campaign, feasibility: [:], strategic: ["A9"])
        }
        let westernBalkans = ["tirana", "prishtina", "tuzla", "mostar", "montenegro", "skopje", "novisad"].compactMap { institutions[$0] }
        if !westernBalkans.isEmpty {
            let campaign = try await make("Western Balkans regional IaH needs analysis \(year)", scope: .region, scopeID: "WB",
                                          targets: westernBalkans, groups: ["academic_staff", "administrative_staff", "students"])
            for (index, institution) in westernBalkans.enumerated() {
                try await answer(campaign, institution: institution, perGroup: ["academic_staff": 9, "administrative_staff": 6, "students": 10], profile: index + 3)
            }
            try await finish(campaign, feasibility: [:], strategic: [])
        }
        if let uet = institutions["uet"] {
            let campaign = try await make("IaH needs analysis \(year) — European University of Tirana", scope: .institution, scopeID: uet.uuidString,
                                          targets: [uet], groups: groups)
            campaign.closesOn = Date().addingTimeInterval(30 * 86400)
            campaign.opensOn = Date().addingTimeInterval(-7 * 86400)
            campaign.state = .open
            try await campaign.save(on: db)
        }
    }
}
