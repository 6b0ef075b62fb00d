import Fluent
import Vapor

/// Analysis settings, results (tables, charts), validation, publication and CSV exports of a campaign.
struct ResultsRoutes: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let campaigns = routes.grouped(User.redirectMiddleware(path: "/signin")).grouped("campaigns", ":id")
        campaigns.get("analysis", use: analysisForm)
        campaigns.post("analyse", use: analyse)
        campaigns.get("results", use: results)
        campaigns.get("validation", use: validationForm)
        campaigns.post("validate", use: validate)
        campaigns.post("publish", use: publish)
        campaigns.get("export", ":file", use: export)
    }

    func find(_ req: Request) async throws -> (Campaign, Actor) {
        let actor = try await req.requireActor()
        guard let id = req.parameters.get("id", as: UUID.self), let campaign = try await Campaign.find(id, on: req.db) else {
            throw Abort(.notFound)
        }
        try await req.campaigns.requireRun(campaign, by: actor)
        return (campaign, actor)
    }

    func areaNames(_ req: Request) async throws -> [String: String] {
        Dictionary(uniqueKeysWithValues: try await Area.query(on: req.db).all().map { ($0.code, localized($0.names, req.locale)) })
    }

    // MARK: analysis settings

    struct AnalysisView: Encodable {
        struct Row: Encodable {
            var code: String
            var name: String
            var options: [Choice]
            var strategic: Bool
        }
        var id: String
        var title: String
        var rows: [Row]
        var responses: Int
    }

    static let feasibilityLevels: [Double] = [0, 0.25, 0.5, 0.75, 1]

    func analysisForm(req: Request) async throws -> Response {
        let (campaign, _) = try await find(req)
        guard CampaignService.allowed[.analyse]!.contains(campaign.state) else { throw Abort(.conflict) }
        let areas = try await Area.query(on: req.db).sort(\.$position).all()
        let rows = areas.map { area in
            let current = campaign.feasibility[area.code] ?? 0.5
            return AnalysisView.Row(
                code: area.code, name: localized(area.names, req.locale),
                options: Self.feasibilityLevels.map { .init(value: String($0), label: req.t("analysis.feasibility.\(Int($0 * 100))"), selected: abs($0 - current) < 0.01) },
                strategic: campaign.strategicAreas.contains(area.code))
        }
        let responses = try await SurveyResponse.query(on: req.db).filter(\.$campaign.$id == campaign.requireID()).count()
        return try await req.page("campaigns/analysis", titleKey: "analysis.title", titleArguments: [campaign.title],
                                  AnalysisView(id: campaign.id!.uuidString, title: campaign.title, rows: rows, responses: responses))
    }

    func analyse(req: Request) async throws -> Response {
        let (campaign, actor) = try await find(req)
        let pairs = Responding.formPairs(req.body.string ?? "")
        var feasibility: [String: Double] = [:]
        var strategic = Set<String>()
        for (name, value) in pairs {
            if name.hasPrefix("feasibility:"), let number = Double(value), (0...1).contains(number) {
                feasibility[String(name.dropFirst("feasibility:".count))] = number
            }
            if name == "strategic" { strategic.insert(value) }
        }
        do {
            try await req.campaigns.analyse(campaign, feasibility: feasibility, strategic: strategic, by: actor)
            req.flash("success", "analysis.done")
            return req.seeOther("/campaigns/\(campaign.id!.uuidString)/results")
        } catch let errors as FieldErrors {
            req.flash("error", errors.fields.first?.1 ?? "error.bad_request")
            return req.seeOther("/campaigns/\(campaign.id!.uuidString)")
        }
    }

    // MARK: results

    struct ResultsView: Encodable {
        struct AreaRow: Encodable {
            var rank: Int
            var code: String
            var name: String
            var importance: String
            var performance: String
            var n: Int
            var gap: String
            var consensus: String
            var quadrant: String
            var feasibility: String
            var strategic: Bool
            var priority: String
            var groups: [GroupCell]
        }
        struct GroupCell: Encodable {
            var shown: Bool
            var text: String
        }
        struct ItemRow: Encodable {
            var code: String
            var area: String
            var n: Int
            var importance: String
            var performance: String
            var mwds: String
            var shrunk: String
        }
        struct CountryRow: Encodable {
            var name: String
            var cells: [String]
        }
        struct Pair: Encodable {
            var area: String
            var strong: String
            var weak: String
            var difference: String
        }
        var id: String
        var title: String
        var state: String
        var canValidate: Bool
        var canPublish: Bool
        var canAnalyse: Bool
        var responses: Int
        var minimumGroupSize: Int
        var groups: [String]
        var areas: [AreaRow]
        var items: [ItemRow]
        var suppressedItems: [String]
        var areasWithoutData: [String]
        var mu: String
        var crosshair: String
        var scatterSVG: String
        var barsSVG: String
        var heatMapSVG: String?
        var areaCodes: [String]
        var countries: [CountryRow]
        var institutions: [CountryRow]
        var pairs: [Pair]
        var validation: [ValidationLine]
        var analysedAt: String
        var comparison: Comparison?
    }

    /// An institution's own results next to its country's and the region's, from a wider campaign it took part in.
    struct Comparison: Encodable {
        struct Row: Encodable {
            var code: String
            var own: String
            var inWider: String
            var national: String
            var regional: String
        }
        var campaign: String
        var rows: [Row]
    }

    /// The latest analysed country or region campaign that included this institution.
    func comparison(_ req: Request, for campaign: Campaign) async throws -> Comparison? {
        guard campaign.scope == .institution, let institutionID = UUID(uuidString: campaign.scopeID),
              let institution = try await Institution.find(institutionID, on: req.db), let own = campaign.results?.analysis else { return nil }
        let wider = try await Campaign.query(on: req.db).filter(\.$scope != .institution).sort(\.$analysedAt, .descending).all()
            .first { $0.results?.rollUp != nil && $0.targetInstitutions.contains(institutionID) }
        guard let wider, let results = wider.results, let rollUp = results.rollUp else { return nil }
        let mine = results.institutionGaps.first { $0.id == institutionID.uuidString }
        let national = rollUp.country(institution.countryCode)
        let codes = own.areas.map(\.area).sorted(by: PriorityAnalysis.naturalLess)
        return Comparison(campaign: wider.title, rows: codes.map { code in
            .init(code: code, own: format(req, own.area(code)?.gap), inWider: format(req, mine?.gaps[code]),
                  national: format(req, national?.areas.first { $0.area == code }?.mean), regional: format(req, rollUp.region(code)?.mean))
        })
    }

    struct ValidationLine: Encodable {
        var rank: Int
        var area: String
        var rationale: String
    }

    func format(_ req: Request, _ value: Double?, _ digits: Int = 2) -> String {
        value.map { req.formatNumber($0, fractionDigits: digits) } ?? "–"
    }

    func results(req: Request) async throws -> Response {
        let (campaign, _) = try await find(req)
        guard let results = campaign.results else { throw Abort(.notFound) }
        let names = try await areaNames(req)
        let report = results.analysis
        let groups = campaign.groups
        let areas: [ResultsView.AreaRow] = report.areas.map { area in
            ResultsView.AreaRow(
                rank: area.rank, code: area.area, name: names[area.area] ?? area.area,
                importance: format(req, area.importance), performance: format(req, area.performance), n: area.respondents,
                gap: format(req, area.gap), consensus: format(req, area.consensus),
                quadrant: req.t("quadrant.\(area.quadrant.rawValue)"), feasibility: format(req, area.feasibility),
                strategic: area.strategic, priority: format(req, area.priority, 3),
                groups: groups.map { group in
                    if let score = area.groups.first(where: { $0.group == group }) {
                        return .init(shown: true, text: "\(format(req, score.mwds)) (n=\(score.respondents))")
                    }
                    return .init(shown: false, text: req.t("results.suppressed", String(campaign.minimumGroupSize)))
                })
        }
        let items = report.items.map {
            ResultsView.ItemRow(code: $0.item, area: $0.area, n: $0.n, importance: format(req, $0.importance), performance: format(req, $0.performance),
                                mwds: format(req, $0.mwds), shrunk: format(req, $0.shrunk))
        }
        var countries: [ResultsView.CountryRow] = []
        var institutionRows: [ResultsView.CountryRow] = []
        var pairs: [ResultsView.Pair] = []
        let areaCodes = report.areas.map(\.area).sorted(by: PriorityAnalysis.naturalLess)
        var heatMap: String?
        if let rollUp = results.rollUp {
            let countryNames = Dictionary(uniqueKeysWithValues: try await Country.query(on: req.db).all().map { ($0.code, localized($0.names, req.locale)) })
            let institutions = Dictionary(uniqueKeysWithValues: try await Institution.query(on: req.db).all().map { ($0.id!.uuidString, localized($0.names, req.locale)) })
            countries = rollUp.countries.map { country in
                .init(name: countryNames[country.countryCode] ?? country.countryCode,
                      cells: areaCodes.map { code in format(req, country.areas.first { $0.area == code }?.mean) })
            }
            countries.append(.init(name: req.t("results.region_mean"), cells: areaCodes.map { code in format(req, rollUp.region.first { $0.area == code }?.mean) }))
            institutionRows = results.institutionGaps.map { gaps in
                .init(name: institutions[gaps.id] ?? gaps.id, cells: areaCodes.map { format(req, gaps.gaps[$0]) })
            }
            pairs = rollUp.peerLearningPairs.map {
                .init(area: "\($0.area) \(names[$0.area] ?? "")", strong: institutions[$0.strong] ?? $0.strong,
                      weak: institutions[$0.weak] ?? $0.weak, difference: format(req, $0.difference))
            }
            heatMap = ResultCharts.heatMap(req, rollUp: rollUp, countryNames: countryNames, areaCodes: areaCodes)
        }
        let view = ResultsView(
            id: campaign.id!.uuidString, title: campaign.title, state: req.t("campaign.state.\(campaign.state.rawValue)"),
            canValidate: campaign.state == .analysed, canPublish: campaign.state == .validated, canAnalyse: campaign.state == .analysed,
            responses: results.responses, minimumGroupSize: campaign.minimumGroupSize,
            groups: groups.map { req.t("group.\($0)") }, areas: areas, items: items,
            suppressedItems: report.excludedItems.map(\.item), areasWithoutData: report.areasWithoutData,
            mu: format(req, report.mu),
            crosshair: "\(format(req, report.importanceCrosshair)) / \(format(req, report.performanceCrosshair))",
            scatterSVG: ResultCharts.scatter(req, report: report, names: names),
            barsSVG: ResultCharts.bars(req, report: report, names: names),
            heatMapSVG: heatMap, areaCodes: areaCodes, countries: countries, institutions: institutionRows, pairs: pairs,
            validation: (campaign.validation?.entries ?? []).map { .init(rank: $0.rank, area: "\($0.area) \(names[$0.area] ?? "")", rationale: $0.rationale) },
            analysedAt: req.formatDate(campaign.analysedAt, time: true),
            comparison: try await comparison(req, for: campaign))
        return try await req.page("campaigns/results", titleKey: "results.title", titleArguments: [campaign.title], view)
    }

    // MARK: validation

    struct ValidationView: Encodable {
        struct Row: Encodable {
            var code: String
            var name: String
            var suggestedRank: Int
            var priority: String
            var gap: String
            var include: Bool
            var rank: String
            var rationale: String
            var error: String?
        }
        var id: String
        var title: String
        var rows: [Row]
        var form: FormState
    }

    func validationView(_ req: Request, _ campaign: Campaign, values: [String: (Bool, String, String)]? = nil, form: FormState = FormState()) async throws -> ValidationView {
        guard let results = campaign.results else { throw Abort(.notFound) }
        let names = try await areaNames(req)
        let rows = results.analysis.areas.map { area -> ValidationView.Row in
            let typed = values?[area.area]
            return .init(code: area.area, name: names[area.area] ?? area.area, suggestedRank: area.rank, priority: format(req, area.priority, 3),
                         gap: format(req, area.gap), include: typed?.0 ?? (area.rank <= 5), rank: typed?.1 ?? String(area.rank),
                         rationale: typed?.2 ?? "", error: form.errors["rank-\(area.area)"] ?? form.errors["rationale-\(area.area)"])
        }
        return ValidationView(id: campaign.id!.uuidString, title: campaign.title, rows: rows, form: form)
    }

    func validationForm(req: Request) async throws -> Response {
        let (campaign, _) = try await find(req)
        guard campaign.state == .analysed else { throw Abort(.conflict) }
        return try await req.page("campaigns/validation", titleKey: "validation.title", titleArguments: [campaign.title], validationView(req, campaign))
    }

    func validate(req: Request) async throws -> Response {
        let (campaign, actor) = try await find(req)
        let pairs = Responding.formPairs(req.body.string ?? "")
        func value(_ name: String) -> String { pairs.first { $0.0 == name }?.1 ?? "" }
        let included = Set(pairs.filter { $0.0 == "include" }.map(\.1))
        let areas = campaign.results?.analysis.areas.map(\.area) ?? []
        let input = areas.map { code in
            CampaignService.ValidationInput(area: code, include: included.contains(code), rank: value("rank:\(code)"), rationale: value("rationale:\(code)"))
        }
        do {
            try await req.campaigns.validate(campaign, entries: input, by: actor)
            req.flash("success", "validation.done")
            return req.seeOther("/campaigns/\(campaign.id!.uuidString)/results")
        } catch let errors as FieldErrors {
            var form = FormState()
            for (field, key) in errors.fields { form.add(field, req.t(key)) }
            let typed = Dictionary(uniqueKeysWithValues: input.map { ($0.area, ($0.include, $0.rank, $0.rationale)) })
            return try await req.page("campaigns/validation", titleKey: "validation.title", titleArguments: [campaign.title],
                                      validationView(req, campaign, values: typed, form: form), status: .unprocessableEntity)
        }
    }

    func publish(req: Request) async throws -> Response {
        let (campaign, actor) = try await find(req)
        do {
            try await req.campaigns.publish(campaign, by: actor)
            req.flash("success", "validation.published")
        } catch let errors as FieldErrors {
            req.flash("error", errors.fields.first?.1 ?? "error.bad_request")
        }
        return req.seeOther("/campaigns/\(campaign.id!.uuidString)/results")
    }

    // MARK: exports

    func export(req: Request) async throws -> Response {
        let (campaign, _) = try await find(req)
        let file = try req.parameters.require("file")
        let bom = req.query[String.self, at: "bom"] != "0"
        let exporter = CampaignExport(db: req.db, locale: req.locale)
        let csv: CSVWriter
        switch file {
        case "responses.csv": csv = try await exporter.responses(campaign)
        case "codebook.csv": csv = try await exporter.codebook(campaign)
        case "items.csv": csv = try exporter.items(campaign)
        case "areas.csv": csv = try exporter.areas(campaign)
        default: throw Abort(.notFound)
        }
        let name = OrganisationService.slug(from: campaign.title).prefix(60)
        return csv.response(filename: "\(name)-\(file)", bom: bom)
    }
}
