import Fluent
import Vapor

/// The results page's charts: the analysis report turned into the chart inputs, in the viewer's language.
enum ResultCharts {
    static func scatter(_ req: Request, report: PriorityAnalysis.Report, names: [String: String]) -> String {
        let points = report.areas.map { area in
            Charts.ScatterPoint(
                label: area.area, x: area.performance, y: area.importance, highlighted: area.quadrant == .concentrateHere,
                tooltip: req.t("chart.scatter.point", area.area, names[area.area] ?? "", req.formatNumber(area.importance, fractionDigits: 2),
                               req.formatNumber(area.performance, fractionDigits: 2), String(area.respondents)))
        }
        let concentrate = report.areas.filter { $0.quadrant == .concentrateHere }.map(\.area).joined(separator: ", ")
        return Charts.ipaScatter(
            points, meanX: report.performanceCrosshair ?? 3, meanY: report.importanceCrosshair ?? 3,
            labels: .init(xAxis: req.t("chart.scatter.x"), yAxis: req.t("chart.scatter.y"),
                          concentrateHere: req.t("quadrant.concentrateHere"), keepUpTheGoodWork: req.t("quadrant.keepUp"),
                          lowPriority: req.t("quadrant.lowPriority"), possibleOverkill: req.t("quadrant.possibleOverkill")),
            caption: .init(idPrefix: "ipa", title: req.t("chart.scatter.title"),
                           description: req.t("chart.scatter.desc", concentrate.isEmpty ? "–" : concentrate), noDataMessage: req.t("chart.no_data")))
    }

    static func bars(_ req: Request, report: PriorityAnalysis.Report, names: [String: String]) -> String {
        let bars = report.areas.sorted { $0.rank < $1.rank }.map { area in
            Charts.Bar(code: area.area, name: names[area.area] ?? area.area, value: area.priority, n: area.respondents,
                       detail: req.t("chart.bars.detail", req.formatNumber(area.gap, fractionDigits: 2),
                                     req.formatNumber(area.feasibility, fractionDigits: 2), area.strategic ? "1" : "0"))
        }
        let top = report.areas.sorted { $0.rank < $1.rank }.prefix(3).map(\.area).joined(separator: ", ")
        return Charts.rankedBars(
            bars, caption: .init(idPrefix: "priority", title: req.t("chart.bars.title"), description: req.t("chart.bars.desc", top.isEmpty ? "–" : top),
                                 noDataMessage: req.t("chart.no_data")),
            maxValue: 1.25, formatValue: { req.formatNumber($0, fractionDigits: 2) }, formatCount: { "n = \($0)" })
    }

    static func heatMap(_ req: Request, rollUp: PriorityAnalysis.RollUp, countryNames: [String: String], areaCodes: [String]) -> String {
        let rows = rollUp.countries.map { country in
            Charts.HeatRow(name: countryNames[country.countryCode] ?? country.countryCode,
                           values: areaCodes.map { code in country.areas.first { $0.area == code }?.mean })
        }
        return Charts.heatMap(
            rows: rows, columns: areaCodes,
            caption: .init(idPrefix: "heat", title: req.t("chart.heat.title"), description: req.t("chart.heat.desc", String(rows.count)),
                           noDataMessage: req.t("chart.no_data")),
            legendTitle: req.t("chart.heat.legend"), missingLabel: req.t("chart.heat.missing"),
            formatValue: { req.formatNumber($0, fractionDigits: 2) })
    }
}

/// CSV files of a campaign: raw responses, the codebook, item statistics and area scores.
struct CampaignExport {
    let db: any Database
    let locale: UILocale

    /// One row per response: institution, group, day, then one column per item code
    /// (importance/performance items as two columns, `<code>.I` and `<code>.P`).
    func responses(_ campaign: Campaign) async throws -> CSVWriter {
        guard let instrument = try await Instrument.find(campaign.$instrument.id, on: db) else { throw Abort(.notFound) }
        let items = instrument.definition.items
        var columns: [String] = []
        for item in items {
            if item.kind == .importancePerformance { columns += ["\(item.code).I", "\(item.code).P"] } else { columns.append(item.code) }
        }
        var csv = CSVWriter(header: ["response", "institution", "group", "submitted_on"] + columns)
        let institutions = Dictionary(uniqueKeysWithValues: try await Institution.query(on: db).all().map { ($0.id!, $0.shortName) })
        let responses = try await SurveyResponse.query(on: db).filter(\.$campaign.$id == campaign.requireID()).sort(\.$submittedOn).all()
        let answers = Dictionary(grouping: try await SurveyAnswer.query(on: db).filter(\.$campaignID == campaign.requireID()).all(), by: { $0.$response.id })
        for (index, response) in responses.enumerated() {
            let byItem = Dictionary(uniqueKeysWithValues: (answers[response.id!] ?? []).map { ($0.itemCode, $0) })
            var row = [String(index + 1), institutions[response.institutionID] ?? "", response.group, response.submittedOn]
            for item in items {
                let answer = byItem[item.code]
                switch item.kind {
                case .importancePerformance:
                    row += [answer?.importance.map(String.init) ?? "", answer?.performance.map(String.init) ?? ""]
                case .likert, .number:
                    row.append(answer?.numberValue.map { $0 == $0.rounded() ? String(Int($0)) : String($0) } ?? "")
                default:
                    row.append(answer?.textValue ?? "")
                }
            }
            csv.append(row)
        }
        return csv
    }

    /// Item code → text, and option code → label, in every UI language.
    func codebook(_ campaign: Campaign) async throws -> CSVWriter {
        guard let instrument = try await Instrument.find(campaign.$instrument.id, on: db) else { throw Abort(.notFound) }
        var csv = CSVWriter(header: ["code", "option", "kind", "area"] + UILocale.allCases.map(\.rawValue))
        for section in instrument.definition.sections {
            for item in section.items {
                csv.append([item.code, "", item.kind.rawValue, section.area ?? ""] + UILocale.allCases.map { item.text[$0.rawValue] ?? "" })
                for option in item.options ?? [] {
                    csv.append([item.code, option.code, "option", section.area ?? ""] + UILocale.allCases.map { option.label[$0.rawValue] ?? "" })
                }
            }
        }
        return csv
    }

    func report(_ campaign: Campaign) throws -> PriorityAnalysis.Report {
        guard let report = campaign.results?.analysis else { throw Abort(.notFound, reason: "The campaign has not been analysed yet.") }
        return report
    }

    /// Per item and group: n, means, MWDS (suppressed groups: n only); per item: balanced MWDS and shrunk value.
    func items(_ campaign: Campaign) throws -> CSVWriter {
        let report = try report(campaign)
        var csv = CSVWriter(header: ["item", "area", "group", "n", "importance", "performance", "mwds", "shrunk", "suppressed"])
        for item in report.items {
            csv.append([item.item, item.area, "all", String(item.n), CSVWriter.number(item.importance), CSVWriter.number(item.performance),
                        CSVWriter.number(item.mwds), CSVWriter.number(item.shrunk), "false"])
            for group in item.groups {
                csv.append([item.item, item.area, group.group, group.suppressed ? "" : String(group.n), CSVWriter.number(group.importance),
                            CSVWriter.number(group.performance), CSVWriter.number(group.mwds), "", group.suppressed ? "true" : "false"])
            }
        }
        for excluded in report.excludedItems {
            csv.append([excluded.item, excluded.area, "all", "", "", "", "", "", "true"])
        }
        return csv
    }

    /// Per area: every component of the priority.
    func areas(_ campaign: Campaign) throws -> CSVWriter {
        let report = try report(campaign)
        var csv = CSVWriter(header: ["rank", "area", "importance", "performance", "n", "mwds", "gap", "consensus", "quadrant",
                                     "feasibility", "strategic", "priority"])
        for area in report.areas.sorted(by: { $0.rank < $1.rank }) {
            csv.append([String(area.rank), area.area, CSVWriter.number(area.importance), CSVWriter.number(area.performance),
                        String(area.respondents), CSVWriter.number(area.mwds), CSVWriter.number(area.gap), CSVWriter.number(area.consensus),
                        area.quadrant.rawValue, CSVWriter.number(area.feasibility), area.strategic ? "1" : "0", CSVWriter.number(area.priority, digits: 4)])
        }
        return csv
    }
}
