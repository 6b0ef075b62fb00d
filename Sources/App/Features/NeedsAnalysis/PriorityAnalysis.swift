import Foundation

// The needs-analysis method of DESIGN.md section 3.1 "Analysis", steps 1–8, as pure
// functions over plain values. No database, no HTTP: the app aggregates the answers in SQL
// (GROUP BY item, group → n, Σ importance, Σ performance) and hands the sufficient
// statistics to `PriorityAnalysis.analyse`; per-institution area gaps go to
// `PriorityAnalysis.rollUp`. Every component of every score is returned, so the UI never has
// to show one bare number. The conventions the design leaves open are documented on
// `PriorityAnalysis`.

/// One importance/performance item answered by one stakeholder group: the sufficient
/// statistics of a `GROUP BY item, group` over the answers.
public struct ItemGroupStats: Sendable, Hashable, Codable {
    /// Item code, e.g. "A4.2".
    public var item: String
    /// IaH area code "A1"…"A13".
    public var area: String
    /// Stakeholder group: management, academic_staff, administrative_staff, students, external.
    public var group: String
    /// Respondents who answered BOTH importance and performance (1–5 each).
    public var n: Int
    public var sumImportance: Double
    public var sumPerformance: Double

    public init(item: String, area: String, group: String, n: Int, sumImportance: Double, sumPerformance: Double) {
        self.item = item
        self.area = area
        self.group = group
        self.n = n
        self.sumImportance = sumImportance
        self.sumPerformance = sumPerformance
    }
}

/// The coordinator's settings for one analysis run.
public struct AnalysisSettings: Sendable, Hashable, Codable {
    /// Groups with fewer respondents are suppressed (never shown, weight 0). Values below 1 act as 1.
    public var minimumGroupSize: Int = 5
    /// k in S = (n·MWDS + k·μ)/(n + k). Negative or non-finite acts as 0.
    public var shrinkageK: Double = 5
    /// Relative group weights; empty = equal weights. When non-empty, unnamed groups weigh 0.
    public var groupWeights: [String: Double] = [:]
    /// Area → feasibility F_a in 0…1; 0.5 when missing.
    public var feasibility: [String: Double] = [:]
    /// Areas flagged as national or roadmap priority (S_a = 1).
    public var strategic: Set<String> = []
    /// When set, used as μ instead of the mean computed from the input — e.g. the mean of the
    /// whole country or region campaign when one institution of it is analysed on its own.
    public var campaignMean: Double? = nil

    public init(
        minimumGroupSize: Int = 5, shrinkageK: Double = 5, groupWeights: [String: Double] = [:],
        feasibility: [String: Double] = [:], strategic: Set<String> = [], campaignMean: Double? = nil
    ) {
        self.minimumGroupSize = minimumGroupSize
        self.shrinkageK = shrinkageK
        self.groupWeights = groupWeights
        self.feasibility = feasibility
        self.strategic = strategic
        self.campaignMean = campaignMean
    }
}

/// The method: `analyse` (steps 1–7) and `rollUp` (step 8), and their result types.
///
/// Conventions the design leaves open, decided here (each is repeated where it applies):
///
/// - Groups with n < minimum group size are *suppressed*: their means are never returned
///   (privacy rule of section 3.1), they get weight 0, and the weights of the shown groups are
///   renormalised to sum to 1. A minimum below 1 is treated as 1.
/// - Group weights: an empty dictionary means equal weights. A non-empty dictionary is the
///   complete specification: a group it does not name weighs 0 (it is still shown and still
///   counts for consensus, it just does not move the balanced score). Negative or non-finite
///   weights count as 0. Weights are relative; only their ratios matter.
/// - An item whose groups are all suppressed is excluded from steps 2–8 and reported in
///   `Report.excludedItems` (reason `.allGroupsSuppressed`); an item whose shown groups all
///   weigh 0 likewise (reason `.noWeightedGroup`).
/// - n of an item (used in shrinkage) = Σ n over the groups that contribute to the balanced
///   score (shown and weight > 0); with default weights that is the total n of shown groups.
/// - μ (campaign mean) = the unweighted mean of the balanced item MWDS over all items with
///   data (i.e. not excluded), unless `AnalysisSettings.campaignMean` overrides it.
///   k < 0 or non-finite counts as 0 (no shrinkage).
/// - Area values (Ī, P̄, MWDS, S) are unweighted means over the area's included items, each
///   item value itself balanced over groups with the renormalised weights. Gap
///   G_a = clip(mean S / 20, 0, 1): 20 is the largest possible |MWDS| ((5−1)·5).
/// - Per-group area score MWDS_a,g = mean of the *unshrunk* MWDS_item,g over the area's
///   included items where group g is shown.
/// - Consensus C_a = clip(1 − sd / 20, 0, 1) with sd the *population* standard deviation
///   (unweighted, one value per shown group) of MWDS_a,g; 20 is the largest population sd of
///   values confined to [−20, 20]. nil when fewer than 2 groups are shown in the area.
/// - Quadrant crosshairs: the unweighted mean over areas with data of the area Ī and of the
///   area P̄. A value at or above its crosshair (within 1e-9) counts as "high".
/// - Feasibility F_a defaults to 0.5 when missing or NaN and is clamped to 0…1.
/// - Ranks 1…N with no shared ranks: priority descending, then gap descending, then area code
///   ascending in natural order (A2 before A10). Priorities and gaps equal to 12 decimal
///   places count as ties (so floating-point noise never decides a rank).
/// - An area that occurs in the input (or in `expectedAreas`) but has no included item is not
///   scored or ranked; it is listed in `Report.areasWithoutData`.
/// - n of an area: `respondents` = the largest n of any of its items (a lower bound of the
///   people behind it — aggregates cannot identify a person across items) and
///   `answerPairs` = Σ n over its items.
/// - Duplicate (item, group) rows are merged by adding their sufficient statistics; a row
///   with negative n counts as n = 0; a group whose sums are not finite is suppressed. An
///   item belongs to the area of its first row.
/// - Roll-up (step 8): national = mean G_a over the country's institutions, regional = mean of
///   the national means; spreads use the population sd; peer-learning pairs are described on
///   `rollUp(_:threshold:maxPairsPerArea:onePairPerInstitution:)`.
public enum PriorityAnalysis {
    /// Largest possible |MWDS| on 1–5 scales: (5 − 1) × 5. Divides S into the 0…1 gap and is
    /// the max_sd of the consensus.
    public static let maxMWDS: Double = 20
    /// Share of the priority that does not depend on feasibility: P = G·(0.6 + 0.4·F)·(1 + 0.25·S).
    public static let feasibilityBase: Double = 0.6
    public static let feasibilitySlope: Double = 0.4
    public static let strategicBonus: Double = 0.25
    public static let defaultFeasibility: Double = 0.5
    /// Display order of the stakeholder groups; other groups follow alphabetically.
    public static let groupOrder = ["management", "academic_staff", "administrative_staff", "students", "external"]

    // MARK: Step 1–2: item × group

    /// Step 1 for one item and one group, and the weight it received in step 2.
    public struct GroupScore: Sendable, Hashable, Codable {
        public var item: String
        public var area: String
        public var group: String
        /// Respondents who answered both importance and performance.
        public var n: Int
        /// n below the minimum group size: all values below are nil and the weight is 0.
        public var suppressed: Bool
        /// Mean importance Ī (nil when suppressed).
        public var importance: Double?
        /// Mean performance P̄ (nil when suppressed).
        public var performance: Double?
        /// mean(I − P) = Ī − P̄ (nil when suppressed).
        public var meanDifference: Double?
        /// Borich MWDS = mean(I − P) × Ī, in −20…20 (nil when suppressed).
        public var mwds: Double?
        /// Renormalised weight used in the balanced item score (0 when suppressed, unweighted
        /// or the item is excluded); the weights of an included item sum to 1.
        public var weight: Double
    }

    /// Steps 2–3 for one item with data.
    public struct ItemScore: Sendable, Hashable, Codable {
        public var item: String
        public var area: String
        /// Every group that answered, suppressed ones included (without values), in `groupOrder`.
        public var groups: [GroupScore]
        /// Number of groups with n ≥ minimum.
        public var shownGroupCount: Int
        /// Σ n over the contributing groups (shown and weight > 0): the n of the shrinkage.
        public var n: Int
        /// Balanced Ī = Σ w_g·Ī_g.
        public var importance: Double
        /// Balanced P̄ = Σ w_g·P̄_g.
        public var performance: Double
        /// Balanced MWDS_item = Σ w_g·MWDS_item,g.
        public var mwds: Double
        /// μ used for the shrinkage.
        public var mu: Double
        /// k used for the shrinkage.
        public var k: Double
        /// n/(n + k): the share of the item's own MWDS in S (1 − this goes to μ).
        public var shrinkageWeight: Double
        /// S = (n·MWDS + k·μ)/(n + k).
        public var shrunk: Double
    }

    public enum ExclusionReason: String, Sendable, Hashable, Codable {
        /// Every group that answered the item has n < minimum.
        case allGroupsSuppressed
        /// Some groups are shown, but all of them weigh 0 in the custom group weights.
        case noWeightedGroup
    }

    /// An item left out of steps 2–8, with the reason (its groups carry n only, never means
    /// for suppressed groups).
    public struct ExcludedItem: Sendable, Hashable, Codable {
        public var item: String
        public var area: String
        public var reason: ExclusionReason
        public var groups: [GroupScore]
    }

    // MARK: Steps 4–7: areas

    public enum Quadrant: String, Sendable, Hashable, Codable, CaseIterable {
        /// Importance high, performance low.
        case concentrateHere
        /// Importance high, performance high.
        case keepUp
        /// Importance low, performance low.
        case lowPriority
        /// Importance low, performance high.
        case possibleOverkill

        /// "High" means at or above the crosshair (1e-9 tolerance).
        public static func of(importance: Double, performance: Double, importanceCrosshair: Double, performanceCrosshair: Double) -> Quadrant {
            let highImportance = importance >= importanceCrosshair - 1e-9
            let highPerformance = performance >= performanceCrosshair - 1e-9
            switch (highImportance, highPerformance) {
            case (true, false): return .concentrateHere
            case (true, true): return .keepUp
            case (false, false): return .lowPriority
            case (false, true): return .possibleOverkill
            }
        }
    }

    /// One stakeholder group's view of one area: MWDS_a,g and its parts.
    public struct AreaGroupScore: Sendable, Hashable, Codable {
        public var group: String
        /// Included items of the area where this group is shown.
        public var itemCount: Int
        /// Largest n of the group over those items.
        public var respondents: Int
        /// Σ n of the group over those items.
        public var answerPairs: Int
        /// Mean over those items of Ī_item,g.
        public var importance: Double
        /// Mean over those items of P̄_item,g.
        public var performance: Double
        /// MWDS_a,g = mean over those items of the unshrunk MWDS_item,g.
        public var mwds: Double
    }

    /// Steps 4–7 for one area with data.
    public struct AreaScore: Sendable, Hashable, Codable {
        public var area: String
        /// Included items, in natural order.
        public var items: [String]
        /// Items of this area excluded by suppression or weighting.
        public var excludedItems: [String]
        /// Largest item n (a lower bound of the people behind the area).
        public var respondents: Int
        /// Σ item n.
        public var answerPairs: Int
        /// Mean over items of the balanced Ī.
        public var importance: Double
        /// Mean over items of the balanced P̄.
        public var performance: Double
        /// Mean over items of the balanced, unshrunk MWDS.
        public var mwds: Double
        /// Mean over items of S (before scaling and clipping).
        public var meanShrunk: Double
        /// G_a = clip(meanShrunk / 20, 0, 1).
        public var gap: Double
        /// Shown groups, in `groupOrder`.
        public var groups: [AreaGroupScore]
        /// Population sd of the groups' MWDS_a,g (nil with fewer than 2 shown groups).
        public var consensusSD: Double?
        /// C_a = clip(1 − sd/20, 0, 1); nil with fewer than 2 shown groups.
        public var consensus: Double?
        public var quadrant: Quadrant
        /// F_a actually used (default 0.5, clamped to 0…1).
        public var feasibility: Double
        /// 0.6 + 0.4·F_a.
        public var feasibilityFactor: Double
        /// S_a = 1 (national or roadmap priority).
        public var strategic: Bool
        /// 1 + 0.25·S_a.
        public var strategicFactor: Double
        /// P_a = G_a × feasibilityFactor × strategicFactor.
        public var priority: Double
        /// 1 = highest priority; unique.
        public var rank: Int
    }

    /// The full, transparent result of steps 1–7.
    public struct Report: Sendable, Hashable, Codable {
        /// The settings as given.
        public var settings: AnalysisSettings
        /// Minimum group size actually applied (≥ 1).
        public var minimumGroupSize: Int
        /// k actually applied (≥ 0).
        public var shrinkageK: Double
        /// μ used in the shrinkage (the override, else the computed mean); nil when no item has data.
        public var mu: Double?
        /// Mean balanced MWDS over the items with data, as computed from the input.
        public var computedMu: Double?
        /// Quadrant crosshairs: mean area Ī and mean area P̄ over areas with data.
        public var importanceCrosshair: Double?
        public var performanceCrosshair: Double?
        /// Items with data, ordered by area then item (natural order).
        public var items: [ItemScore]
        /// Items left out, ordered by area then item.
        public var excludedItems: [ExcludedItem]
        /// Areas with data, ordered by rank.
        public var areas: [AreaScore]
        /// Areas present in the input or expected but without any included item (natural order).
        public var areasWithoutData: [String]

        public func area(_ code: String) -> AreaScore? { areas.first { $0.area == code } }
        public func item(_ code: String) -> ItemScore? { items.first { $0.item == code } }
        /// Area → G_a, the input of the roll-up.
        public var gapsByArea: [String: Double] {
            Dictionary(uniqueKeysWithValues: areas.map { ($0.area, $0.gap) })
        }
    }

    // MARK: - analyse

    /// Steps 1–7 over aggregated statistics. `expectedAreas` (e.g. A1…A13 of the instrument)
    /// makes areas that received no answers at all show up in `areasWithoutData`.
    public static func analyse(_ stats: [ItemGroupStats], settings: AnalysisSettings = AnalysisSettings(), expectedAreas: [String] = []) -> Report {
        let minimum = max(1, settings.minimumGroupSize)
        let k = settings.shrinkageK.isFinite ? max(0, settings.shrinkageK) : 0

        // Merge rows per (item, group) — the statistics are additive.
        struct Cell {
            var n: Int
            var sumI: Double
            var sumP: Double
            mutating func add(n: Int, sumI: Double, sumP: Double) {
                self.n += n
                self.sumI += sumI
                self.sumP += sumP
            }
        }
        struct ItemCells { var area: String; var cells: [String: Cell] }
        var byItem: [String: ItemCells] = [:]
        var seenAreas = Set(expectedAreas)
        for row in stats {
            seenAreas.insert(row.area)
            // In-place updates: no copy of the nested dictionaries per row.
            byItem[row.item, default: ItemCells(area: row.area, cells: [:])]
                .cells[row.group, default: Cell(n: 0, sumI: 0, sumP: 0)]
                .add(n: max(0, row.n), sumI: row.sumImportance, sumP: row.sumPerformance)
        }

        func rawWeight(_ group: String) -> Double {
            guard !settings.groupWeights.isEmpty else { return 1 }
            guard let w = settings.groupWeights[group], w.isFinite, w > 0 else { return 0 }
            return w
        }

        // Steps 1–2.
        struct Balanced { var item: String; var area: String; var groups: [GroupScore]; var shown: Int; var n: Int; var i: Double; var p: Double; var mwds: Double }
        var balanced: [Balanced] = []
        var excluded: [ExcludedItem] = []
        balanced.reserveCapacity(byItem.count)
        for (item, entry) in byItem {
            var groups: [GroupScore] = []
            groups.reserveCapacity(entry.cells.count)
            var totalWeight = 0.0
            for (group, cell) in entry.cells {
                let shown = cell.n >= minimum && cell.sumI.isFinite && cell.sumP.isFinite
                var score = GroupScore(item: item, area: entry.area, group: group, n: cell.n, suppressed: !shown,
                                       importance: nil, performance: nil, meanDifference: nil, mwds: nil, weight: 0)
                if shown {
                    let i = cell.sumI / Double(cell.n)
                    let p = cell.sumP / Double(cell.n)
                    score.importance = i
                    score.performance = p
                    score.meanDifference = i - p
                    score.mwds = (i - p) * i
                    score.weight = rawWeight(group)
                    totalWeight += score.weight
                }
                groups.append(score)
            }
            groups.sort { groupLess($0.group, $1.group) }
            let shownCount = groups.count { !$0.suppressed }
            guard shownCount > 0, totalWeight > 0 else {
                for index in groups.indices { groups[index].weight = 0 }
                excluded.append(ExcludedItem(item: item, area: entry.area, reason: shownCount == 0 ? .allGroupsSuppressed : .noWeightedGroup, groups: groups))
                continue
            }
            var n = 0, i = 0.0, p = 0.0, mwds = 0.0
            for index in groups.indices where !groups[index].suppressed {
                let w = groups[index].weight / totalWeight
                groups[index].weight = w
                guard w > 0 else { continue }
                n += groups[index].n
                i += w * groups[index].importance!
                p += w * groups[index].performance!
                mwds += w * groups[index].mwds!
            }
            balanced.append(Balanced(item: item, area: entry.area, groups: groups, shown: shownCount, n: n, i: i, p: p, mwds: mwds))
        }

        // Step 3.
        let computedMu: Double? = balanced.isEmpty ? nil : balanced.reduce(0) { $0 + $1.mwds } / Double(balanced.count)
        let mu: Double? = settings.campaignMean.flatMap { $0.isFinite ? $0 : nil } ?? computedMu
        var items: [ItemScore] = balanced.map { b in
            let m = mu ?? b.mwds
            let n = Double(b.n)
            return ItemScore(item: b.item, area: b.area, groups: b.groups, shownGroupCount: b.shown, n: b.n,
                             importance: b.i, performance: b.p, mwds: b.mwds, mu: m, k: k,
                             shrinkageWeight: n / (n + k), shrunk: (n * b.mwds + k * m) / (n + k))
        }
        items.sort { areaThenItemLess(($0.area, $0.item), ($1.area, $1.item)) }
        excluded.sort { areaThenItemLess(($0.area, $0.item), ($1.area, $1.item)) }

        // Step 4–5: per area.
        var itemsByArea: [String: [ItemScore]] = [:]
        for item in items { itemsByArea[item.area, default: []].append(item) }
        var excludedByArea: [String: [String]] = [:]
        for item in excluded { excludedByArea[item.area, default: []].append(item.item) }

        var areas: [AreaScore] = []
        for (area, areaItems) in itemsByArea {
            let count = Double(areaItems.count)
            let meanShrunk = areaItems.reduce(0) { $0 + $1.shrunk } / count
            struct GroupAcc { var items = 0; var maxN = 0; var sumN = 0; var i = 0.0; var p = 0.0; var mwds = 0.0 }
            var groupAcc: [String: GroupAcc] = [:]
            for item in areaItems {
                for g in item.groups where !g.suppressed {
                    var acc = groupAcc[g.group, default: GroupAcc()]
                    acc.items += 1
                    acc.maxN = max(acc.maxN, g.n)
                    acc.sumN += g.n
                    acc.i += g.importance!
                    acc.p += g.performance!
                    acc.mwds += g.mwds!
                    groupAcc[g.group] = acc
                }
            }
            let groups = groupAcc.map { group, acc in
                let c = Double(acc.items)
                return AreaGroupScore(group: group, itemCount: acc.items, respondents: acc.maxN, answerPairs: acc.sumN,
                                      importance: acc.i / c, performance: acc.p / c, mwds: acc.mwds / c)
            }.sorted { groupLess($0.group, $1.group) }
            let sd = groups.count >= 2 ? populationSD(groups.map(\.mwds)) : nil
            let rawFeasibility = settings.feasibility[area] ?? defaultFeasibility
            let feasibility = rawFeasibility.isNaN ? defaultFeasibility : clip(rawFeasibility)
            let strategic = settings.strategic.contains(area)
            let gap = clip(meanShrunk / maxMWDS)
            let feasibilityFactor = feasibilityBase + feasibilitySlope * feasibility
            let strategicFactor = 1 + strategicBonus * (strategic ? 1 : 0)
            areas.append(AreaScore(
                area: area,
                items: areaItems.map(\.item),
                excludedItems: excludedByArea[area] ?? [],
                respondents: areaItems.map(\.n).max() ?? 0,
                answerPairs: areaItems.reduce(0) { $0 + $1.n },
                importance: areaItems.reduce(0) { $0 + $1.importance } / count,
                performance: areaItems.reduce(0) { $0 + $1.performance } / count,
                mwds: areaItems.reduce(0) { $0 + $1.mwds } / count,
                meanShrunk: meanShrunk,
                gap: gap,
                groups: groups,
                consensusSD: sd,
                consensus: sd.map { clip(1 - $0 / maxMWDS) },
                quadrant: .keepUp,
                feasibility: feasibility,
                feasibilityFactor: feasibilityFactor,
                strategic: strategic,
                strategicFactor: strategicFactor,
                priority: gap * feasibilityFactor * strategicFactor,
                rank: 0))
        }

        // Step 6: quadrants around the mean area Ī and P̄.
        let importanceCrosshair: Double? = areas.isEmpty ? nil : areas.reduce(0) { $0 + $1.importance } / Double(areas.count)
        let performanceCrosshair: Double? = areas.isEmpty ? nil : areas.reduce(0) { $0 + $1.performance } / Double(areas.count)
        if let ci = importanceCrosshair, let cp = performanceCrosshair {
            for index in areas.indices {
                areas[index].quadrant = .of(importance: areas[index].importance, performance: areas[index].performance,
                                            importanceCrosshair: ci, performanceCrosshair: cp)
            }
        }

        // Step 7: rank.
        areas.sort { a, b in
            let pa = tieKey(a.priority), pb = tieKey(b.priority)
            if pa != pb { return pa > pb }
            let ga = tieKey(a.gap), gb = tieKey(b.gap)
            if ga != gb { return ga > gb }
            return naturalLess(a.area, b.area)
        }
        for index in areas.indices { areas[index].rank = index + 1 }

        let withData = Set(itemsByArea.keys)
        let withoutData = seenAreas.subtracting(withData).sorted(by: naturalLess)

        return Report(settings: settings, minimumGroupSize: minimum, shrinkageK: k, mu: mu, computedMu: computedMu,
                      importanceCrosshair: importanceCrosshair, performanceCrosshair: performanceCrosshair,
                      items: items, excludedItems: excluded, areas: areas, areasWithoutData: withoutData)
    }

    // MARK: - Step 8: roll-up

    /// One institution's area gaps G_a (from `Report.gapsByArea`).
    public struct InstitutionGaps: Sendable, Hashable, Codable {
        public var id: String
        public var countryCode: String
        /// Area → G_a in 0…1; non-finite values are ignored.
        public var gaps: [String: Double]

        public init(id: String, countryCode: String, gaps: [String: Double]) {
            self.id = id
            self.countryCode = countryCode
            self.gaps = gaps
        }

        public init(id: String, countryCode: String, report: Report) {
            self.init(id: id, countryCode: countryCode, gaps: report.gapsByArea)
        }
    }

    /// Mean and spread of one area's gaps over a set of values (institutions of a country, or
    /// national means of a region). `sd` is the population standard deviation (0 for one value).
    public struct Spread: Sendable, Hashable, Codable {
        public var area: String
        public var mean: Double
        public var min: Double
        public var max: Double
        public var sd: Double
        /// Institutions (country level) or countries (region level) with a value for this area.
        public var count: Int
    }

    public struct CountryRollUp: Sendable, Hashable, Codable {
        public var countryCode: String
        /// Institutions of the country in the input.
        public var institutionCount: Int
        /// National mean G_a per area with its spread over the institutions, natural area order.
        public var areas: [Spread]
    }

    /// One institution strong in an area paired with one that has a large gap there.
    public struct PeerLearningPair: Sendable, Hashable, Codable {
        public var area: String
        public var strong: String
        public var strongCountry: String
        public var strongGap: Double
        public var weak: String
        public var weakCountry: String
        public var weakGap: Double
        /// weakGap − strongGap (≥ threshold).
        public var difference: Double
    }

    public struct RollUp: Sendable, Hashable, Codable {
        /// Countries in code order.
        public var countries: [CountryRollUp]
        /// Regional value per area = mean of the national means; the spread is over countries.
        public var region: [Spread]
        /// Per area (natural order) at most `maxPairsPerArea` pairs, largest difference first.
        public var peerLearningPairs: [PeerLearningPair]
        public var threshold: Double

        public func country(_ code: String) -> CountryRollUp? { countries.first { $0.countryCode == code } }
        public func region(_ area: String) -> Spread? { region.first { $0.area == area } }
        public func pairs(in area: String) -> [PeerLearningPair] { peerLearningPairs.filter { $0.area == area } }
    }

    /// Step 8. National value per area = mean G_a of the country's institutions (with min, max,
    /// population sd and count); regional value = mean of the national means (each country
    /// counts once, whatever its number of institutions).
    ///
    /// Peer-learning pairs, per area: a pair (strong, weak) qualifies when
    /// gap(weak) − gap(strong) ≥ `threshold` (1e-9 tolerance) and strong ≠ weak. Pairs are
    /// ordered by difference descending, then strong gap ascending, weak gap descending,
    /// strong id, weak id. With `onePairPerInstitution` (default) they are chosen greedily in
    /// that order so that an institution appears in at most one pair per area — the best
    /// performer meets the largest gap, the second best the second largest, … — spreading
    /// mentoring over more institutions; without it the top pairs are taken as they come.
    /// If an id occurs twice in the input, its first entry is used.
    public static func rollUp(_ institutions: [InstitutionGaps], threshold: Double = 0.25, maxPairsPerArea: Int = 3,
                              onePairPerInstitution: Bool = true) -> RollUp {
        var seen = Set<String>()
        let unique = institutions.filter { seen.insert($0.id).inserted }

        // National.
        var byCountry: [String: [InstitutionGaps]] = [:]
        for institution in unique { byCountry[institution.countryCode, default: []].append(institution) }
        let countries: [CountryRollUp] = byCountry.keys.sorted().map { code in
            let members = byCountry[code]!
            var values: [String: [Double]] = [:]
            for member in members {
                for (area, gap) in member.gaps where gap.isFinite { values[area, default: []].append(gap) }
            }
            let spreads = values.keys.sorted(by: naturalLess).map { spread(area: $0, values[$0]!) }
            return CountryRollUp(countryCode: code, institutionCount: members.count, areas: spreads)
        }

        // Regional.
        var national: [String: [Double]] = [:]
        for country in countries {
            for s in country.areas { national[s.area, default: []].append(s.mean) }
        }
        let region = national.keys.sorted(by: naturalLess).map { spread(area: $0, national[$0]!) }

        // Peer learning.
        var pairs: [PeerLearningPair] = []
        let limit = max(0, maxPairsPerArea)
        var gapsByArea: [String: [(id: String, country: String, gap: Double)]] = [:]
        for institution in unique {
            for (area, gap) in institution.gaps where gap.isFinite {
                gapsByArea[area, default: []].append((institution.id, institution.countryCode, gap))
            }
        }
        for area in gapsByArea.keys.sorted(by: naturalLess) where limit > 0 {
            let entries = gapsByArea[area]!
            let strongOrder = entries.sorted { $0.gap != $1.gap ? $0.gap < $1.gap : $0.id < $1.id }
            let weakOrder = entries.sorted { $0.gap != $1.gap ? $0.gap > $1.gap : $0.id < $1.id }
            func pair(_ s: (id: String, country: String, gap: Double), _ w: (id: String, country: String, gap: Double)) -> PeerLearningPair {
                PeerLearningPair(area: area, strong: s.id, strongCountry: s.country, strongGap: s.gap,
                                 weak: w.id, weakCountry: w.country, weakGap: w.gap, difference: w.gap - s.gap)
            }
            // The best `m` pairs among unused institutions are always among the first m + 1
            // unused strong candidates × the first m + 1 unused weak candidates.
            func candidates(_ m: Int, excluding used: Set<String>) -> [PeerLearningPair] {
                let strong = strongOrder.lazy.filter { !used.contains($0.id) }.prefix(m + 1)
                let weak = weakOrder.lazy.filter { !used.contains($0.id) }.prefix(m + 1)
                var found: [PeerLearningPair] = []
                for s in strong {
                    for w in weak where w.id != s.id && w.gap - s.gap >= threshold - 1e-9 {
                        found.append(pair(s, w))
                    }
                }
                return found.sorted(by: pairPrecedes)
            }
            if onePairPerInstitution {
                var used = Set<String>()
                var chosen = 0
                while chosen < limit, let best = candidates(1, excluding: used).first {
                    pairs.append(best)
                    used.insert(best.strong)
                    used.insert(best.weak)
                    chosen += 1
                }
            } else {
                pairs.append(contentsOf: candidates(limit, excluding: []).prefix(limit))
            }
        }
        return RollUp(countries: countries, region: region, peerLearningPairs: pairs, threshold: threshold)
    }

    // MARK: - Helpers

    static func pairPrecedes(_ a: PeerLearningPair, _ b: PeerLearningPair) -> Bool {
        let da = tieKey(a.difference), db = tieKey(b.difference)
        if da != db { return da > db }
        if a.strongGap != b.strongGap { return a.strongGap < b.strongGap }
        if a.weakGap != b.weakGap { return a.weakGap > b.weakGap }
        if a.strong != b.strong { return a.strong < b.strong }
        return a.weak < b.weak
    }

    static func spread(area: String, _ values: [Double]) -> Spread {
        let mean = values.reduce(0, +) / Double(values.count)
        return Spread(area: area, mean: mean, min: values.min()!, max: values.max()!, sd: populationSD(values), count: values.count)
    }

    /// Population standard deviation √(Σ(x − x̄)²/N); 0 for fewer than two values.
    public static func populationSD(_ values: [Double]) -> Double {
        guard values.count > 1 else { return 0 }
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)
        return variance.squareRoot()
    }

    static func clip(_ x: Double, _ low: Double = 0, _ high: Double = 1) -> Double { min(high, max(low, x)) }

    /// Values equal to 12 decimal places compare equal when ranking.
    static func tieKey(_ x: Double) -> Double { (x * 1e12).rounded() }

    static func groupLess(_ a: String, _ b: String) -> Bool {
        let ia = groupOrder.firstIndex(of: a) ?? groupOrder.count
        let ib = groupOrder.firstIndex(of: b) ?? groupOrder.count
        return ia != ib ? ia < ib : a < b
    }

    static func areaThenItemLess(_ a: (String, String), _ b: (String, String)) -> Bool {
        a.0 != b.0 ? naturalLess(a.0, b.0) : naturalLess(a.1, b.1)
    }

    /// Natural order of codes: digit runs compare as numbers, so "A2" < "A10" and "A4.2" < "A4.10".
    /// Codes that differ only in leading zeros fall back to plain string order.
    public static func naturalLess(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }
        var i = 0, j = 0
        while i < x.count && j < y.count {
            if isDigit(x[i]) && isDigit(y[j]) {
                var i2 = i, j2 = j
                while i2 < x.count && isDigit(x[i2]) { i2 += 1 }
                while j2 < y.count && isDigit(y[j2]) { j2 += 1 }
                var si = i, sj = j
                while si < i2 - 1 && x[si] == 48 { si += 1 }
                while sj < j2 - 1 && y[sj] == 48 { sj += 1 }
                if i2 - si != j2 - sj { return i2 - si < j2 - sj }
                for (dx, dy) in zip(x[si..<i2], y[sj..<j2]) where dx != dy { return dx < dy }
                i = i2
                j = j2
            } else {
                if x[i] != y[j] { return x[i] < y[j] }
                i += 1
                j += 1
            }
        }
        if x.count - i != y.count - j { return x.count - i < y.count - j }
        return a < b
    }
}
