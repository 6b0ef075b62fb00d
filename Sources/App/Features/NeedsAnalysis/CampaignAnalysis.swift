import Fluent
import FluentSQL
import Vapor

/// Analysis, validation and publication of a campaign's priorities.
extension CampaignService {
    /// Importance/performance sums per item, area, stakeholder group and institution, straight from SQL.
    func aggregate(_ campaign: Campaign) async throws -> [UUID: [ItemGroupStats]] {
        guard let sql = db as? any SQLDatabase else { throw Abort(.internalServerError) }
        let rows = try await sql.raw("""
            SELECT item_code AS item, area_code AS area, grp, institution_id AS inst, \
            COUNT(*) AS n, CAST(SUM(importance) AS BIGINT) AS si, CAST(SUM(performance) AS BIGINT) AS sp \
            FROM survey_answers \
            WHERE campaign_id = \(bind: campaign.requireID()) AND importance IS NOT NULL \
            AND performance IS NOT NULL AND area_code IS NOT NULL \
            GROUP BY item_code, area_code, grp, institution_id
            """).all()
        var byInstitution: [UUID: [ItemGroupStats]] = [:]
        for row in rows {
            let stats = ItemGroupStats(
                item: try row.decode(column: "item", as: String.self), area: try row.decode(column: "area", as: String.self),
                group: try row.decode(column: "grp", as: String.self), n: try row.decode(column: "n", as: Int.self),
                sumImportance: Double(try row.decode(column: "si", as: Int.self)),
                sumPerformance: Double(try row.decode(column: "sp", as: Int.self)))
            byInstitution[try row.decode(column: "inst", as: UUID.self), default: []].append(stats)
        }
        return byInstitution
    }

    /// Submitted responses per stakeholder group, counted in SQL.
    func responseCounts(_ campaign: Campaign) async throws -> [String: Int] {
        guard let sql = db as? any SQLDatabase else { throw Abort(.internalServerError) }
        let rows = try await sql.raw("""
            SELECT "group" AS grp, COUNT(*) AS n FROM survey_responses WHERE campaign_id = \(bind: campaign.requireID()) GROUP BY "group"
            """).all()
        var counts: [String: Int] = [:]
        for row in rows { counts[try row.decode(column: "grp", as: String.self)] = try row.decode(column: "n", as: Int.self) }
        return counts
    }

    /// Pools the institutions' sums per item and group.
    static func pooled(_ byInstitution: [UUID: [ItemGroupStats]]) -> [ItemGroupStats] {
        var cells: [String: ItemGroupStats] = [:]
        for stats in byInstitution.values.joined() {
            let key = stats.item + "\u{1}" + stats.group
            if var cell = cells[key] {
                cell.n += stats.n
                cell.sumImportance += stats.sumImportance
                cell.sumPerformance += stats.sumPerformance
                cells[key] = cell
            } else {
                cells[key] = stats
            }
        }
        return cells.keys.sorted().map { cells[$0]! }
    }

    /// Steps 1–8 on the stored answers; the results are stored on the campaign.
    func analyse(_ campaign: Campaign, feasibility: [String: Double], strategic: Set<String>, by actor: Actor) async throws {
        try await requireRun(campaign, by: actor)
        try requireTransition(.analyse, campaign)
        let byInstitution = try await aggregate(campaign)
        let responsesByGroup = try await responseCounts(campaign)
        let areas = try await Area.query(on: db).sort(\.$position).all().map(\.code)
        let settings = AnalysisSettings(minimumGroupSize: campaign.minimumGroupSize, feasibility: feasibility, strategic: strategic)
        let report = PriorityAnalysis.analyse(Self.pooled(byInstitution), settings: settings, expectedAreas: areas)

        var gaps: [PriorityAnalysis.InstitutionGaps] = []
        var rollUp: PriorityAnalysis.RollUp?
        if campaign.scope != .institution {
            let institutions = try await Institution.query(on: db).filter(\.$id ~~ Array(byInstitution.keys)).all()
            var perInstitution = settings
            perInstitution.campaignMean = report.mu
            for institution in institutions.sorted(by: { $0.shortName < $1.shortName }) {
                guard let id = institution.id, let stats = byInstitution[id] else { continue }
                let own = PriorityAnalysis.analyse(stats, settings: perInstitution, expectedAreas: areas)
                gaps.append(PriorityAnalysis.InstitutionGaps(id: id.uuidString, countryCode: institution.countryCode, report: own))
            }
            rollUp = PriorityAnalysis.rollUp(gaps)
        }
        campaign.feasibility = feasibility
        campaign.strategicAreas = strategic.sorted()
        campaign.results = CampaignResults(
            responses: responsesByGroup.values.reduce(0, +),
            responsesByGroup: responsesByGroup,
            analysis: report, institutionGaps: gaps, rollUp: rollUp)
        campaign.analysedAt = now()
        campaign.state = .analysed
        try await campaign.save(on: db)
    }

    struct ValidationInput {
        var area: String
        var include: Bool
        var rank: String
        var rationale: String
    }

    /// The coordinator confirms a ranked priority list with a rationale per area.
    func validate(_ campaign: Campaign, entries input: [ValidationInput], by actor: Actor) async throws {
        try await requireRun(campaign, by: actor)
        try requireTransition(.validate, campaign)
        guard let results = campaign.results else { throw FieldErrors([("state", "campaign.error.transition")]) }
        let known = Set(results.analysis.areas.map(\.area))
        var errors: [(String, String)] = []
        var entries: [PriorityValidation.Entry] = []
        for entry in input where entry.include {
            guard known.contains(entry.area) else { errors.append(("rank-\(entry.area)", "validation.area_required")); continue }
            guard let rank = Int(entry.rank.trimmingCharacters(in: .whitespaces)), rank >= 1, rank <= known.count else {
                errors.append(("rank-\(entry.area)", "validation.rank")); continue
            }
            let rationale = entry.rationale.trimmingCharacters(in: .whitespacesAndNewlines)
            if rationale.isEmpty || rationale.count > 2000 { errors.append(("rationale-\(entry.area)", "validation.rationale_error")); continue }
            entries.append(.init(area: entry.area, rank: rank, rationale: rationale))
        }
        if entries.isEmpty && errors.isEmpty { errors.append(("priorities", "validation.priorities_required")) }
        if Set(entries.map(\.rank)).count != entries.count { errors.append(("priorities", "validation.rank_unique")) }
        guard errors.isEmpty else { throw FieldErrors(errors) }
        campaign.validation = PriorityValidation(entries: entries.sorted { $0.rank < $1.rank }, validatedBy: actor.userID, validatedAt: now())
        campaign.state = .validated
        try await campaign.save(on: db)
    }

    func publish(_ campaign: Campaign, by actor: Actor) async throws {
        try await requireRun(campaign, by: actor)
        try requireTransition(.publish, campaign)
        campaign.state = .published
        campaign.publishedAt = now()
        try await campaign.save(on: db)
    }
}

/// The published priority lists, for roadmaps and Requests for Knowledge.
struct PublishedPriorities {
    let db: any Database

    struct Priority: Codable, Sendable, Equatable {
        var area: String
        var rank: Int
        var rationale: String
        var gap: Double?
        var campaignID: UUID
        var campaignTitle: String
        var publishedAt: Date?
    }

    /// The latest published list that covers an institution (its own campaign first, then national, then regional).
    func forInstitution(_ institutionID: UUID) async throws -> [Priority] {
        let published = try await Campaign.query(on: db).filter(\.$state == .published).sort(\.$publishedAt, .descending).all()
        let covering = published.filter { $0.targetInstitutions.contains(institutionID) }
        let order: [Campaign.Scope] = [.institution, .country, .region]
        guard let campaign = order.lazy.compactMap({ scope in covering.first { $0.scope == scope } }).first,
              let validation = campaign.validation else { return [] }
        return validation.entries.map { entry in
            Priority(area: entry.area, rank: entry.rank, rationale: entry.rationale,
                     gap: campaign.results?.analysis.area(entry.area)?.gap, campaignID: campaign.id!, campaignTitle: campaign.title,
                     publishedAt: campaign.publishedAt)
        }
    }
}
