@testable import App
import Foundation
import Testing

/// The needs-analysis method (DESIGN.md section 3.1 "Analysis", steps 1–8) over aggregated
/// statistics. Every expected value is worked out by hand in the comments.
@Suite("Needs analysis: priority method")
struct PriorityAnalysisTests {
    // MARK: Helpers

    /// |a − b| < tolerance; a nil `a` never matches.
    func close(_ a: Double?, _ b: Double, tolerance: Double = 1e-9) -> Bool {
        guard let a else { return false }
        return abs(a - b) < tolerance
    }

    /// A row from aggregated sums, as the SQL GROUP BY delivers it.
    func row(_ item: String, _ area: String, _ group: String, n: Int, sumI: Double, sumP: Double) -> ItemGroupStats {
        ItemGroupStats(item: item, area: area, group: group, n: n, sumImportance: sumI, sumPerformance: sumP)
    }

    /// A row from individual answers (importance[i], performance[i] are one respondent).
    func answers(_ item: String, _ area: String, _ group: String, importance: [Int], performance: [Int]) -> ItemGroupStats {
        precondition(importance.count == performance.count)
        return row(item, area, group, n: importance.count,
                   sumI: Double(importance.reduce(0, +)), sumP: Double(performance.reduce(0, +)))
    }

    // MARK: Worked example 1 — suppressed group, renormalised custom weights

    @Test("worked example: a suppressed group is hidden and the remaining weights are renormalised")
    func suppressedGroupAndRenormalisedWeights() throws {
        // Item A4.2 (area A4), minimum group size 5, weights management 0.2, academic staff 0.3, students 0.5.
        //
        // management, n = 5:
        //   Ī = (5+4+5+4+4)/5 = 22/5 = 4.4
        //   P̄ = (3+2+3+2+3)/5 = 13/5 = 2.6
        //   mean(I − P) = 4.4 − 2.6 = 1.8;  MWDS = 1.8 × 4.4 = 7.92
        // academic_staff, n = 10:
        //   Ī = (5+3+4+4+4+5+3+4+4+4)/10 = 40/10 = 4.0
        //   P̄ = (4+2+3+3+3+4+2+3+3+3)/10 = 30/10 = 3.0
        //   mean(I − P) = 1.0;  MWDS = 1.0 × 4.0 = 4.0
        // students, n = 3 < 5 → suppressed (they would have MWDS (5 − 1) × 5 = 20, which must not count).
        //
        // Shown weights 0.2 + 0.3 = 0.5 → renormalised: management 0.2/0.5 = 0.4, academic 0.3/0.5 = 0.6.
        //   MWDS_item = 0.4 × 7.92 + 0.6 × 4.0 = 3.168 + 2.4 = 5.568
        //   Ī_item    = 0.4 × 4.4 + 0.6 × 4.0 = 1.76 + 2.4 = 4.16
        //   P̄_item    = 0.4 × 2.6 + 0.6 × 3.0 = 1.04 + 1.8 = 2.84
        //   n = 5 + 10 = 15 (shown groups)
        // Only item → μ = 5.568 → S = (15 × 5.568 + 5 × 5.568)/(15 + 5) = 5.568
        // G = 5.568 / 20 = 0.2784
        // Consensus over shown groups {7.92, 4.0}: mean 5.96, deviations ±1.96 → population sd 1.96
        //   C = 1 − 1.96/20 = 1 − 0.098 = 0.902
        // One area → it sits on both crosshairs → "keep up" (at or above counts as high).
        // F missing → 0.5 → 0.6 + 0.4 × 0.5 = 0.8; not strategic → × 1
        //   P = 0.2784 × 0.8 = 0.22272, rank 1.
        let stats = [
            answers("A4.2", "A4", "management", importance: [5, 4, 5, 4, 4], performance: [3, 2, 3, 2, 3]),
            answers("A4.2", "A4", "academic_staff", importance: [5, 3, 4, 4, 4, 5, 3, 4, 4, 4], performance: [4, 2, 3, 3, 3, 4, 2, 3, 3, 3]),
            answers("A4.2", "A4", "students", importance: [5, 5, 5], performance: [1, 1, 1]),
        ]
        let settings = AnalysisSettings(groupWeights: ["management": 0.2, "academic_staff": 0.3, "students": 0.5])
        let report = PriorityAnalysis.analyse(stats, settings: settings)

        let item = try #require(report.item("A4.2"))
        #expect(item.groups.map(\.group) == ["management", "academic_staff", "students"])
        let management = item.groups[0], academic = item.groups[1], students = item.groups[2]
        #expect(management.n == 5 && !management.suppressed)
        #expect(close(management.importance, 4.4))
        #expect(close(management.performance, 2.6))
        #expect(close(management.meanDifference, 1.8))
        #expect(close(management.mwds, 7.92))
        #expect(close(management.weight, 0.4))
        #expect(close(academic.importance, 4.0))
        #expect(close(academic.performance, 3.0))
        #expect(close(academic.meanDifference, 1.0))
        #expect(close(academic.mwds, 4.0))
        #expect(close(academic.weight, 0.6))
        // Privacy: a suppressed group shows its n and nothing else.
        #expect(students.n == 3 && students.suppressed)
        #expect(students.importance == nil && students.performance == nil)
        #expect(students.meanDifference == nil && students.mwds == nil)
        #expect(students.weight == 0)

        #expect(item.shownGroupCount == 2)
        #expect(item.n == 15)
        #expect(close(item.mwds, 5.568))
        #expect(close(item.importance, 4.16))
        #expect(close(item.performance, 2.84))
        #expect(close(item.mu, 5.568))
        #expect(close(item.shrinkageWeight, 0.75))
        #expect(close(item.shrunk, 5.568))
        #expect(close(report.mu, 5.568))

        let area = try #require(report.area("A4"))
        #expect(area.items == ["A4.2"])
        #expect(area.respondents == 15 && area.answerPairs == 15)
        #expect(close(area.importance, 4.16))
        #expect(close(area.performance, 2.84))
        #expect(close(area.mwds, 5.568))
        #expect(close(area.meanShrunk, 5.568))
        #expect(close(area.gap, 0.2784))
        #expect(area.groups.map(\.group) == ["management", "academic_staff"], "the suppressed group has no area breakdown")
        #expect(close(area.groups[0].mwds, 7.92))
        #expect(close(area.groups[1].mwds, 4.0))
        #expect(close(area.consensusSD, 1.96))
        #expect(close(area.consensus, 0.902))
        #expect(area.quadrant == .keepUp)
        #expect(close(area.feasibility, 0.5))
        #expect(close(area.feasibilityFactor, 0.8))
        #expect(!area.strategic && area.strategicFactor == 1)
        #expect(close(area.priority, 0.22272))
        #expect(area.rank == 1)

        // Same data with equal weights: 0.5 × 7.92 + 0.5 × 4.0 = 5.96 (students still suppressed).
        let equal = PriorityAnalysis.analyse(stats)
        #expect(close(equal.item("A4.2")?.mwds, 5.96))
        #expect(close(equal.item("A4.2")?.groups[0].weight, 0.5))
    }

    // MARK: Worked example 2 — shrinkage

    @Test("worked example: shrinkage pulls a small-n item toward the campaign mean μ")
    func shrinkageTowardCampaignMean() throws {
        // One group (academic staff), k = 5.
        // A1.1, n = 40: Ī = 160/40 = 4.0, P̄ = 100/40 = 2.5 → MWDS = (4.0 − 2.5) × 4.0 = 6.0
        // A1.2, n = 40: Ī = 120/40 = 3.0, P̄ = 120/40 = 3.0 → MWDS = 0 × 3.0 = 0
        // A2.1, n = 5:  Ī = (5+5+5+5+5)/5 = 5, P̄ = (1+1+1+1+1)/5 = 1 → MWDS = 4 × 5 = 20
        // μ = (6 + 0 + 20)/3 = 26/3 ≈ 8.6667
        // S(A1.1) = (40 × 6 + 5 × 26/3)/(40 + 5) = (240 + 130/3)/45 = 850/135 = 170/27 ≈ 6.2963  (moves 0.30)
        // S(A1.2) = (40 × 0 + 5 × 26/3)/45 = 130/135 = 26/27 ≈ 0.9630
        // S(A2.1) = (5 × 20 + 5 × 26/3)/(5 + 5) = (100 + 130/3)/10 = 43/3 ≈ 14.3333  (moves 5.67: halfway to μ)
        // Shrinkage weights n/(n+k): 40/45 = 8/9 and 5/10 = 0.5.
        // G_A1 = ((170/27 + 26/27)/2)/20 = (98/27)/20 = 49/270 ≈ 0.18148
        // G_A2 = (43/3)/20 = 43/60 ≈ 0.71667
        // P_A2 = 43/60 × 0.8 = 0.57333 (rank 1); P_A1 = 49/270 × 0.8 ≈ 0.14519 (rank 2)
        let stats = [
            row("A1.1", "A1", "academic_staff", n: 40, sumI: 160, sumP: 100),
            row("A1.2", "A1", "academic_staff", n: 40, sumI: 120, sumP: 120),
            answers("A2.1", "A2", "academic_staff", importance: [5, 5, 5, 5, 5], performance: [1, 1, 1, 1, 1]),
        ]
        let report = PriorityAnalysis.analyse(stats)
        #expect(close(report.mu, 26.0 / 3))
        #expect(close(report.computedMu, 26.0 / 3))
        #expect(report.items.map(\.item) == ["A1.1", "A1.2", "A2.1"])

        let big = try #require(report.item("A1.1"))
        let zero = try #require(report.item("A1.2"))
        let small = try #require(report.item("A2.1"))
        #expect(close(big.mwds, 6) && close(zero.mwds, 0) && close(small.mwds, 20))
        #expect(small.n == 5, "exactly the minimum group size is shown")
        #expect(close(big.shrunk, 170.0 / 27))
        #expect(close(zero.shrunk, 26.0 / 27))
        #expect(close(small.shrunk, 43.0 / 3))
        #expect(close(big.shrinkageWeight, 8.0 / 9))
        #expect(close(small.shrinkageWeight, 0.5))
        #expect(abs(small.shrunk - small.mwds) > abs(big.shrunk - big.mwds), "the small item moves much more")

        let a1 = try #require(report.area("A1")), a2 = try #require(report.area("A2"))
        #expect(close(a1.meanShrunk, 98.0 / 27))
        #expect(close(a1.gap, 49.0 / 270))
        #expect(close(a2.gap, 43.0 / 60))
        #expect(a1.respondents == 40 && a1.answerPairs == 80)
        #expect(a1.consensus == nil && a1.consensusSD == nil, "one group: no consensus")
        #expect(report.areas.map(\.area) == ["A2", "A1"])
        #expect(close(a2.priority, 43.0 / 60 * 0.8))
        #expect(close(a1.priority, 49.0 / 270 * 0.8))

        // k = 0: no shrinkage, S = MWDS.
        let raw = PriorityAnalysis.analyse(stats, settings: AnalysisSettings(shrinkageK: 0))
        #expect(close(raw.item("A2.1")?.shrunk, 20))
        #expect(close(raw.area("A2")?.gap, 1))
        // Negative k acts as 0.
        #expect(close(PriorityAnalysis.analyse(stats, settings: AnalysisSettings(shrinkageK: -3)).item("A2.1")?.shrunk, 20))
        // A larger k pulls harder: k = 15 → S(A2.1) = (100 + 15 × 26/3)/20 = (100 + 130)/20 = 11.5
        #expect(close(PriorityAnalysis.analyse(stats, settings: AnalysisSettings(shrinkageK: 15)).item("A2.1")?.shrunk, 11.5))
        // μ overridden by the campaign (e.g. the regional mean 0): S(A2.1) = (100 + 5 × 0)/10 = 10.
        let overridden = PriorityAnalysis.analyse(stats, settings: AnalysisSettings(campaignMean: 0))
        #expect(close(overridden.mu, 0))
        #expect(close(overridden.computedMu, 26.0 / 3))
        #expect(close(overridden.item("A2.1")?.shrunk, 10))
    }

    // MARK: Worked example 3 — consensus, quadrant, priority

    /// Four areas, one item each, management and students with n = 10 each.
    var fourAreas: [ItemGroupStats] {
        [
            row("A1.1", "A1", "management", n: 10, sumI: 45, sumP: 25),
            row("A1.1", "A1", "students", n: 10, sumI: 45, sumP: 35),
            row("A2.1", "A2", "management", n: 10, sumI: 40, sumP: 40),
            row("A2.1", "A2", "students", n: 10, sumI: 40, sumP: 45),
            row("A3.1", "A3", "management", n: 10, sumI: 20, sumP: 15),
            row("A3.1", "A3", "students", n: 10, sumI: 30, sumP: 25),
            row("A4.1", "A4", "management", n: 10, sumI: 30, sumP: 40),
            row("A4.1", "A4", "students", n: 10, sumI: 20, sumP: 40),
        ]
    }

    @Test("worked example: consensus, quadrant and priority with feasibility and a strategic flag")
    func consensusQuadrantPriority() throws {
        // Per group (Ī, P̄ → MWDS = (Ī − P̄) × Ī):
        //   A1 management 4.5, 2.5 → 2 × 4.5 = 9      students 4.5, 3.5 → 1 × 4.5 = 4.5
        //   A2 management 4.0, 4.0 → 0                students 4.0, 4.5 → −0.5 × 4 = −2
        //   A3 management 2.0, 1.5 → 0.5 × 2 = 1      students 3.0, 2.5 → 0.5 × 3 = 1.5
        //   A4 management 3.0, 4.0 → −1 × 3 = −3      students 2.0, 4.0 → −2 × 2 = −4
        // Equal weights 0.5/0.5 → item (= area) values:
        //   A1: MWDS 6.75, Ī 4.5, P̄ 3.0     A2: MWDS −1, Ī 4.0, P̄ 4.25
        //   A3: MWDS 1.25, Ī 2.5, P̄ 2.0     A4: MWDS −3.5, Ī 2.5, P̄ 4.0
        // μ = (6.75 − 1 + 1.25 − 3.5)/4 = 3.5/4 = 0.875; n = 20, k = 5:
        //   S = (20·MWDS + 5 × 0.875)/25 = 0.8·MWDS + 0.175
        //   A1 5.575 → G 0.27875;  A2 −0.625 → G 0 (clipped);  A3 1.175 → G 0.05875;  A4 −2.625 → G 0
        // Consensus (population sd of two values = half their distance):
        //   A1 {9, 4.5} sd 2.25 → C = 1 − 2.25/20 = 0.8875     A2 {0, −2} sd 1 → 0.95
        //   A3 {1, 1.5} sd 0.25 → 0.9875                        A4 {−3, −4} sd 0.5 → 0.975
        // Crosshairs: Ī (4.5 + 4.0 + 2.5 + 2.5)/4 = 3.375;  P̄ (3.0 + 4.25 + 2.0 + 4.0)/4 = 3.3125
        //   A1 high I, low P → concentrate here     A2 high I, high P → keep up
        //   A3 low I, low P → low priority          A4 low I, high P → possible overkill
        // Feasibility A1 0.25, A4 1.0, others 0.5; strategic A1 and A3:
        //   P_A1 = 0.27875 × (0.6 + 0.4 × 0.25) × (1 + 0.25) = 0.27875 × 0.7 × 1.25 = 0.24390625
        //   P_A3 = 0.05875 × (0.6 + 0.4 × 0.5) × 1.25 = 0.05875 × 0.8 × 1.25 = 0.05875
        //   P_A2 = 0 × 0.8 × 1 = 0;  P_A4 = 0 × 1.0 × 1 = 0
        // Ranks: A1, A3, then A2 and A4 tie on priority 0 and gap 0 → area code → A2, A4.
        let settings = AnalysisSettings(feasibility: ["A1": 0.25, "A4": 1.0], strategic: ["A1", "A3"])
        let report = PriorityAnalysis.analyse(fourAreas, settings: settings)

        #expect(close(report.mu, 0.875))
        #expect(close(report.importanceCrosshair, 3.375))
        #expect(close(report.performanceCrosshair, 3.3125))
        #expect(report.areas.map(\.area) == ["A1", "A3", "A2", "A4"])
        #expect(report.areas.map(\.rank) == [1, 2, 3, 4])

        let a1 = try #require(report.area("A1"))
        #expect(close(a1.groups.first { $0.group == "management" }?.mwds, 9))
        #expect(close(a1.groups.first { $0.group == "students" }?.mwds, 4.5))
        #expect(close(a1.mwds, 6.75) && close(a1.importance, 4.5) && close(a1.performance, 3.0))
        #expect(close(a1.meanShrunk, 5.575))
        #expect(close(a1.gap, 0.27875))
        #expect(close(a1.consensusSD, 2.25))
        #expect(close(a1.consensus, 0.8875))
        #expect(a1.quadrant == .concentrateHere)
        #expect(close(a1.feasibility, 0.25))
        #expect(close(a1.feasibilityFactor, 0.7))
        #expect(a1.strategic && close(a1.strategicFactor, 1.25))
        #expect(close(a1.priority, 0.24390625))

        let a2 = try #require(report.area("A2"))
        #expect(close(a2.meanShrunk, -0.625))
        #expect(a2.gap == 0)
        #expect(close(a2.consensus, 0.95))
        #expect(a2.quadrant == .keepUp)
        #expect(a2.priority == 0)

        let a3 = try #require(report.area("A3"))
        #expect(close(a3.gap, 0.05875))
        #expect(close(a3.consensus, 0.9875))
        #expect(a3.quadrant == .lowPriority)
        #expect(close(a3.feasibilityFactor, 0.8))
        #expect(close(a3.priority, 0.05875))

        let a4 = try #require(report.area("A4"))
        #expect(close(a4.meanShrunk, -2.625))
        #expect(a4.gap == 0)
        #expect(close(a4.consensus, 0.975))
        #expect(a4.quadrant == .possibleOverkill)
        #expect(close(a4.feasibilityFactor, 1.0))
        #expect(a4.priority == 0)
    }

    @Test("consensus uses the population sd over the groups' area MWDS, across items, and is nil for one group")
    func consensusAcrossGroupsAndItems() throws {
        // A5.1: management Ī 4.5, P̄ 2.5 → 9; academic Ī 3, P̄ 2 → 1 × 3 = 3; students Ī 4, P̄ 4 → 0.
        //   values {9, 3, 0}: mean 4, deviations 5, −1, −4 → Σ² = 25 + 1 + 16 = 42
        //   population sd = √(42/3) = √14 ≈ 3.7417 (a sample sd would be √21 ≈ 4.58)
        //   C = 1 − √14/20 ≈ 0.81292
        // A6 (two items): management A6.1 9 and A6.2 3 → MWDS_A6,management = (9 + 3)/2 = 6
        //   students suppressed in A6.1 (n = 4), shown in A6.2 with 0 → MWDS_A6,students = 0
        //   sd{6, 0} = 3 → C = 1 − 3/20 = 0.85
        // A7: only management shown → C = nil.
        let stats = [
            row("A5.1", "A5", "management", n: 10, sumI: 45, sumP: 25),
            row("A5.1", "A5", "academic_staff", n: 10, sumI: 30, sumP: 20),
            row("A5.1", "A5", "students", n: 10, sumI: 40, sumP: 40),
            row("A6.1", "A6", "management", n: 10, sumI: 45, sumP: 25),
            row("A6.1", "A6", "students", n: 4, sumI: 20, sumP: 4),
            row("A6.2", "A6", "management", n: 6, sumI: 18, sumP: 12),
            row("A6.2", "A6", "students", n: 8, sumI: 24, sumP: 24),
            row("A7.1", "A7", "management", n: 7, sumI: 28, sumP: 14),
            row("A7.1", "A7", "external", n: 2, sumI: 10, sumP: 2),
        ]
        let report = PriorityAnalysis.analyse(stats)
        let a5 = try #require(report.area("A5"))
        #expect(close(a5.consensusSD, 14.0.squareRoot()))
        #expect(close(a5.consensus, 1 - 14.0.squareRoot() / 20))
        #expect(close(PriorityAnalysis.populationSD([9, 3, 0]), 14.0.squareRoot()))

        let a6 = try #require(report.area("A6"))
        #expect(a6.groups.map(\.group) == ["management", "students"])
        #expect(close(a6.groups[0].mwds, 6))
        #expect(a6.groups[0].itemCount == 2 && a6.groups[0].respondents == 10 && a6.groups[0].answerPairs == 16)
        #expect(close(a6.groups[1].mwds, 0))
        #expect(a6.groups[1].itemCount == 1 && a6.groups[1].respondents == 8)
        #expect(close(a6.consensus, 0.85))

        let a7 = try #require(report.area("A7"))
        #expect(a7.groups.map(\.group) == ["management"])
        #expect(a7.consensus == nil && a7.consensusSD == nil)
        // External's n = 2 is reported on the item, but nothing else.
        let external = try #require(report.item("A7.1")?.groups.first { $0.group == "external" })
        #expect(external.suppressed && external.n == 2 && external.mwds == nil)
    }

    // MARK: Ranking

    @Test("ranks order by priority, then gap, then area code in natural order")
    func ranksAndTieBreaking() throws {
        // k = 0 so S = MWDS; one group, n = 10.
        //   A1: Ī 5, P̄ 1 → 4 × 5 = 20 → G 1;   F 0 → 0.6 → P = 0.6
        //   A2: Ī 4, P̄ 2 → 2 × 4 = 8 → G 0.4;  F 0.5 → 0.8 → P = 0.32
        //   A10: same answers as A2 → P 0.32, G 0.4 → tie on both → code: A2 before A10 (not "A10" < "A2")
        //   A3: Ī 4, P̄ 2.4 → 1.6 × 4 = 6.4 → G 0.32; F 1 → 1.0 → P = 0.32 (equal priority, smaller gap)
        //   A4: Ī 3, P̄ 3 → 0 → P 0
        // Order: A1, A2, A10, A3, A4.
        let stats = [
            row("A10.1", "A10", "management", n: 10, sumI: 40, sumP: 20),
            row("A4.1", "A4", "management", n: 10, sumI: 30, sumP: 30),
            row("A3.1", "A3", "management", n: 10, sumI: 40, sumP: 24),
            row("A2.1", "A2", "management", n: 10, sumI: 40, sumP: 20),
            row("A1.1", "A1", "management", n: 10, sumI: 50, sumP: 10),
        ]
        let settings = AnalysisSettings(shrinkageK: 0, feasibility: ["A1": 0, "A3": 1])
        let report = PriorityAnalysis.analyse(stats, settings: settings)
        #expect(report.areas.map(\.area) == ["A1", "A2", "A10", "A3", "A4"])
        #expect(report.areas.map(\.rank) == [1, 2, 3, 4, 5])
        #expect(close(report.area("A1")?.priority, 0.6))
        #expect(close(report.area("A2")?.priority, 0.32))
        #expect(close(report.area("A10")?.priority, 0.32))
        #expect(close(report.area("A3")?.priority, 0.32))
        #expect(close(report.area("A3")?.gap, 0.32))
        #expect(close(report.area("A2")?.gap, 0.4))
        // Items are listed in natural order too.
        #expect(report.items.map(\.item) == ["A1.1", "A2.1", "A3.1", "A4.1", "A10.1"])
    }

    @Test("natural order of codes")
    func naturalOrder() {
        let codes = ["A10", "A2", "A1", "A13", "A4.10", "A4.2", "A4"]
        #expect(codes.sorted(by: PriorityAnalysis.naturalLess) == ["A1", "A2", "A4", "A4.2", "A4.10", "A10", "A13"])
        #expect(!PriorityAnalysis.naturalLess("A2", "A2"))
    }

    // MARK: Gap clipping

    @Test("performance above importance gives a negative MWDS, a gap clipped at 0 and priority 0")
    func gapClippedAtZero() throws {
        // Ī = (3+3+3+3+3)/5 = 3, P̄ = (5+5+5+5+5)/5 = 5 → mean(I − P) = −2 → MWDS = −2 × 3 = −6
        // Only item → μ = −6 → S = −6 → G = clip(−6/20 = −0.3) = 0; strategic, F = 1 → P = 0 × 1 × 1.25 = 0
        let stats = [answers("A9.1", "A9", "students", importance: [3, 3, 3, 3, 3], performance: [5, 5, 5, 5, 5])]
        let report = PriorityAnalysis.analyse(stats, settings: AnalysisSettings(feasibility: ["A9": 1], strategic: ["A9"]))
        let area = try #require(report.area("A9"))
        #expect(close(report.item("A9.1")?.groups[0].meanDifference, -2))
        #expect(close(area.mwds, -6))
        #expect(close(area.meanShrunk, -6))
        #expect(area.gap == 0)
        #expect(area.priority == 0)
        #expect(area.rank == 1)

        // And clipped at 1 above: μ overridden to 40 (not reachable from 1–5 answers) with
        // MWDS 20, n 5, k 5 → S = (5 × 20 + 5 × 40)/10 = 30 → 30/20 = 1.5 → G = 1.
        let high = [answers("A9.1", "A9", "students", importance: [5, 5, 5, 5, 5], performance: [1, 1, 1, 1, 1])]
        let clipped = PriorityAnalysis.analyse(high, settings: AnalysisSettings(campaignMean: 40))
        #expect(close(clipped.area("A9")?.meanShrunk, 30))
        #expect(clipped.area("A9")?.gap == 1)
    }

    // MARK: Custom weights

    @Test("unequal custom group weights: unnamed groups weigh 0 but still count for consensus")
    func unequalCustomWeights() throws {
        // Weights management 3, students 1 (academic staff not named → 0).
        //   renormalised: management 3/4 = 0.75, students 1/4 = 0.25, academic 0
        // management Ī 4.5, P̄ 2.5 → 9;  students Ī 4.5, P̄ 3.5 → 4.5;  academic Ī 3, P̄ 2 → 3
        //   MWDS_item = 0.75 × 9 + 0.25 × 4.5 = 6.75 + 1.125 = 7.875
        //   Ī = 0.75 × 4.5 + 0.25 × 4.5 = 4.5;  P̄ = 0.75 × 2.5 + 0.25 × 3.5 = 1.875 + 0.875 = 2.75
        //   n = 10 + 10 = 20 (the unweighted group does not add evidence)
        // Consensus over all three shown groups {9, 4.5, 3}: mean 5.5, deviations 3.5, −1, −2.5
        //   Σ² = 12.25 + 1 + 6.25 = 19.5 → sd √(19.5/3) = √6.5 → C = 1 − √6.5/20 ≈ 0.87252
        let stats = [
            row("A1.1", "A1", "management", n: 10, sumI: 45, sumP: 25),
            row("A1.1", "A1", "academic_staff", n: 10, sumI: 30, sumP: 20),
            row("A1.1", "A1", "students", n: 10, sumI: 45, sumP: 35),
            // Shown only for academic staff, who weigh 0 here → item excluded.
            row("A2.1", "A2", "academic_staff", n: 12, sumI: 48, sumP: 24),
        ]
        let report = PriorityAnalysis.analyse(stats, settings: AnalysisSettings(groupWeights: ["management": 3, "students": 1]))
        let item = try #require(report.item("A1.1"))
        #expect(item.groups.map(\.group) == ["management", "academic_staff", "students"])
        #expect(close(item.groups[0].weight, 0.75))
        #expect(item.groups[1].weight == 0 && !item.groups[1].suppressed)
        #expect(close(item.groups[2].weight, 0.25))
        #expect(close(item.mwds, 7.875))
        #expect(close(item.importance, 4.5))
        #expect(close(item.performance, 2.75))
        #expect(item.n == 20)
        #expect(close(report.area("A1")?.consensus, 1 - 6.5.squareRoot() / 20))
        #expect(report.area("A1")?.groups.count == 3)

        #expect(report.item("A2.1") == nil)
        #expect(report.excludedItems.map(\.item) == ["A2.1"])
        #expect(report.excludedItems.first?.reason == .noWeightedGroup)
        #expect(report.areasWithoutData == ["A2"])

        // Only the ratios matter: 6 : 2 gives the same as 3 : 1.
        let scaled = PriorityAnalysis.analyse(stats, settings: AnalysisSettings(groupWeights: ["management": 6, "students": 2]))
        #expect(close(scaled.item("A1.1")?.mwds, 7.875))
        // Negative weights count as 0: management alone → MWDS 9.
        let negative = PriorityAnalysis.analyse(stats, settings: AnalysisSettings(groupWeights: ["management": 1, "students": -1]))
        #expect(close(negative.item("A1.1")?.mwds, 9))
    }

    // MARK: Suppression, missing data, empty input

    @Test("an item with every group suppressed is excluded and reported, and its area is reported without data")
    func everyGroupSuppressed() throws {
        // A13.1: students n 4 and external n 3 < 5 → excluded; A13 has no other item → no data.
        // A11: A11.1 included (n 6), A11.2 suppressed → A11 is scored on A11.1 alone and lists A11.2.
        // A12 is expected by the instrument but has no rows at all.
        let stats = [
            row("A13.1", "A13", "students", n: 4, sumI: 20, sumP: 4),
            row("A13.1", "A13", "external", n: 3, sumI: 15, sumP: 3),
            row("A11.1", "A11", "management", n: 6, sumI: 24, sumP: 12),
            row("A11.2", "A11", "management", n: 2, sumI: 10, sumP: 2),
        ]
        let report = PriorityAnalysis.analyse(stats, expectedAreas: ["A11", "A12", "A13"])
        #expect(report.items.map(\.item) == ["A11.1"])
        #expect(report.excludedItems.map(\.item) == ["A11.2", "A13.1"])
        let excluded = try #require(report.excludedItems.first { $0.item == "A13.1" })
        #expect(excluded.reason == .allGroupsSuppressed)
        #expect(excluded.groups.map(\.group) == ["students", "external"])
        #expect(excluded.groups.map(\.n) == [4, 3])
        #expect(excluded.groups.allSatisfy { $0.suppressed && $0.importance == nil && $0.mwds == nil && $0.weight == 0 })
        #expect(report.areas.map(\.area) == ["A11"])
        #expect(report.area("A11")?.excludedItems == ["A11.2"])
        #expect(report.areasWithoutData == ["A12", "A13"])
        // μ is over items with data only: A11.1 Ī 4, P̄ 2 → 2 × 4 = 8.
        #expect(close(report.mu, 8))

        // A minimum of 2 shows A11.2 (n 2) and A13.1's groups.
        let lenient = PriorityAnalysis.analyse(stats, settings: AnalysisSettings(minimumGroupSize: 2))
        #expect(lenient.excludedItems.isEmpty)
        #expect(lenient.areasWithoutData.isEmpty)
        // A minimum of 0 acts as 1: an n = 0 row is still never shown.
        let zero = PriorityAnalysis.analyse([row("A1.1", "A1", "students", n: 0, sumI: 0, sumP: 0)], settings: AnalysisSettings(minimumGroupSize: 0))
        #expect(zero.minimumGroupSize == 1)
        #expect(zero.excludedItems.first?.reason == .allGroupsSuppressed)
        #expect(zero.areasWithoutData == ["A1"])
    }

    @Test("empty input gives an empty report and an empty roll-up")
    func emptyInput() {
        let report = PriorityAnalysis.analyse([])
        #expect(report.items.isEmpty && report.excludedItems.isEmpty && report.areas.isEmpty)
        #expect(report.areasWithoutData.isEmpty)
        #expect(report.mu == nil && report.computedMu == nil)
        #expect(report.importanceCrosshair == nil && report.performanceCrosshair == nil)
        #expect(report.gapsByArea.isEmpty)
        #expect(PriorityAnalysis.analyse([], expectedAreas: ["A2", "A1"]).areasWithoutData == ["A1", "A2"])

        let rollUp = PriorityAnalysis.rollUp([])
        #expect(rollUp.countries.isEmpty && rollUp.region.isEmpty && rollUp.peerLearningPairs.isEmpty)
    }

    @Test("duplicate (item, group) rows are merged by adding their statistics")
    func duplicateRowsMerge() throws {
        // Two partial aggregates of 3 respondents each: n 6, Σ I 12 + 12 = 24, Σ P 6 + 6 = 12
        //   → Ī = 4, P̄ = 2, MWDS = 8; each part alone (n 3) would be suppressed.
        let stats = [
            row("A3.1", "A3", "academic_staff", n: 3, sumI: 12, sumP: 6),
            row("A3.1", "A3", "academic_staff", n: 3, sumI: 12, sumP: 6),
        ]
        let item = try #require(PriorityAnalysis.analyse(stats).item("A3.1"))
        #expect(item.groups.count == 1)
        #expect(item.n == 6)
        #expect(close(item.mwds, 8))
    }

    // MARK: Roll-up

    /// Five institutions in three countries.
    var institutions: [PriorityAnalysis.InstitutionGaps] {
        [
            .init(id: "i1", countryCode: "AL", gaps: ["A1": 0.2, "A2": 0.6]),
            .init(id: "i2", countryCode: "AL", gaps: ["A1": 0.4, "A2": 0.1]),
            .init(id: "i3", countryCode: "RS", gaps: ["A1": 0.7, "A2": 0.3]),
            .init(id: "i4", countryCode: "RS", gaps: ["A1": 0.5]),
            .init(id: "i5", countryCode: "XK", gaps: ["A1": 0.1, "A2": 0.9]),
        ]
    }

    @Test("roll-up: national means with spread, regional mean of national means")
    func rollUpMeansAndSpread() throws {
        // AL A1 {0.2, 0.4}: mean 0.3, min 0.2, max 0.4, sd 0.1, count 2
        // AL A2 {0.6, 0.1}: mean 0.35, min 0.1, max 0.6, sd 0.25, count 2
        // RS A1 {0.7, 0.5}: mean 0.6, sd 0.1;  RS A2 {0.3}: mean 0.3, sd 0, count 1 (i4 has no A2)
        // XK A1 {0.1}, A2 {0.9}
        // Region A1 = mean(0.3, 0.6, 0.1) = 1.0/3 ≈ 0.33333 (not the institution mean 1.9/5 = 0.38)
        //   deviations −1/30, 8/30, −7/30 → Σ² = 114/900 → sd = √(38/900) = √38/30 ≈ 0.20548
        // Region A2 = mean(0.35, 0.3, 0.9) = 1.55/3 ≈ 0.51667
        //   deviations −10/60, −13/60, 23/60 → Σ² = 798/3600 → sd = √(266/3600) = √266/60 ≈ 0.27183
        let rollUp = PriorityAnalysis.rollUp(institutions)
        #expect(rollUp.countries.map(\.countryCode) == ["AL", "RS", "XK"])
        let al = try #require(rollUp.country("AL"))
        #expect(al.institutionCount == 2)
        #expect(al.areas.map(\.area) == ["A1", "A2"])
        #expect(close(al.areas[0].mean, 0.3) && close(al.areas[0].min, 0.2) && close(al.areas[0].max, 0.4))
        #expect(close(al.areas[0].sd, 0.1) && al.areas[0].count == 2)
        #expect(close(al.areas[1].mean, 0.35) && close(al.areas[1].sd, 0.25))
        let rs = try #require(rollUp.country("RS"))
        #expect(close(rs.areas[0].mean, 0.6) && close(rs.areas[0].sd, 0.1))
        #expect(close(rs.areas[1].mean, 0.3) && rs.areas[1].sd == 0 && rs.areas[1].count == 1)

        let a1 = try #require(rollUp.region("A1"))
        #expect(close(a1.mean, 1.0 / 3))
        #expect(close(a1.min, 0.1) && close(a1.max, 0.6))
        #expect(close(a1.sd, 38.0.squareRoot() / 30))
        #expect(a1.count == 3)
        let a2 = try #require(rollUp.region("A2"))
        #expect(close(a2.mean, 1.55 / 3))
        #expect(close(a2.sd, 266.0.squareRoot() / 60))
        #expect(close(a2.min, 0.3) && close(a2.max, 0.9))
    }

    @Test("roll-up: peer-learning pairs, strongest first, each institution once per area")
    func peerLearningPairs() throws {
        // A1 gaps: i5 0.1, i1 0.2, i2 0.4, i4 0.5, i3 0.7; threshold 0.25.
        //   Best pair i5 → i3 (0.7 − 0.1 = 0.6). Without i5 and i3: i1 0.2, i2 0.4, i4 0.5
        //   → i1 → i4 (0.5 − 0.2 = 0.3). Left: i2 alone → done.
        // A2 gaps: i2 0.1, i3 0.3, i1 0.6, i5 0.9.
        //   i2 → i5 (0.8); then i3 → i1 (0.6 − 0.3 = 0.3).
        let rollUp = PriorityAnalysis.rollUp(institutions)
        let a1 = rollUp.pairs(in: "A1")
        #expect(a1.map(\.strong) == ["i5", "i1"])
        #expect(a1.map(\.weak) == ["i3", "i4"])
        #expect(close(a1[0].difference, 0.6) && close(a1[1].difference, 0.3))
        #expect(a1[0].strongCountry == "XK" && a1[0].weakCountry == "RS")
        #expect(close(a1[0].strongGap, 0.1) && close(a1[0].weakGap, 0.7))
        let a2 = rollUp.pairs(in: "A2")
        #expect(a2.map(\.strong) == ["i2", "i3"])
        #expect(a2.map(\.weak) == ["i5", "i1"])
        #expect(close(a2[0].difference, 0.8) && close(a2[1].difference, 0.3))
        #expect(rollUp.peerLearningPairs.map(\.area) == ["A1", "A1", "A2", "A2"])
        #expect(rollUp.peerLearningPairs.allSatisfy { $0.strong != $0.weak && $0.difference >= 0.25 - 1e-9 })

        // A higher threshold 0.5 keeps only A1 i5 → i3 (0.6) and A2 i2 → i5 (0.8).
        let strict = PriorityAnalysis.rollUp(institutions, threshold: 0.5)
        #expect(strict.peerLearningPairs.map { "\($0.area):\($0.strong)>\($0.weak)" } == ["A1:i5>i3", "A2:i2>i5"])
    }

    @Test("roll-up: at most three pairs per area; without the one-pair rule an institution may recur")
    func peerLearningCap() {
        // Gaps 0.0 … 0.9 for i0 … i7.
        //   One pair per institution: i0 → i7 (0.9), i1 → i6 (0.8 − 0.1 = 0.7), i2 → i5 (0.7 − 0.2 = 0.5);
        //   i3 → i4 (0.3) would qualify but the cap is 3.
        //   Free pairing: i0 → i7 (0.9), then 0.8 twice: i0 → i6 and i1 → i7; tie → smaller strong gap first.
        let gaps = [0.0, 0.1, 0.2, 0.3, 0.6, 0.7, 0.8, 0.9]
        let list = gaps.enumerated().map { PriorityAnalysis.InstitutionGaps(id: "i\($0.offset)", countryCode: "ME", gaps: ["A4": $0.element]) }
        let distinct = PriorityAnalysis.rollUp(list)
        #expect(distinct.peerLearningPairs.map { "\($0.strong)>\($0.weak)" } == ["i0>i7", "i1>i6", "i2>i5"])
        #expect(close(distinct.peerLearningPairs.map(\.difference).reduce(0, +), 0.9 + 0.7 + 0.5))
        let free = PriorityAnalysis.rollUp(list, onePairPerInstitution: false)
        #expect(free.peerLearningPairs.map { "\($0.strong)>\($0.weak)" } == ["i0>i7", "i0>i6", "i1>i7"])
        let four = PriorityAnalysis.rollUp(list, maxPairsPerArea: 4)
        #expect(four.peerLearningPairs.map { "\($0.strong)>\($0.weak)" } == ["i0>i7", "i1>i6", "i2>i5", "i3>i4"])
        #expect(PriorityAnalysis.rollUp(list, maxPairsPerArea: 0).peerLearningPairs.isEmpty)
    }

    @Test("roll-up: the threshold is inclusive and an institution is never paired with itself")
    func peerLearningEdges() {
        // 0.35 − 0.1 = 0.25 (0.2499999… in binary) counts; 0.34 − 0.1 = 0.24 does not.
        let atThreshold = PriorityAnalysis.rollUp([
            .init(id: "a", countryCode: "MK", gaps: ["A5": 0.1]),
            .init(id: "b", countryCode: "MK", gaps: ["A5": 0.35]),
        ])
        #expect(atThreshold.peerLearningPairs.map { "\($0.strong)>\($0.weak)" } == ["a>b"])
        let below = PriorityAnalysis.rollUp([
            .init(id: "a", countryCode: "MK", gaps: ["A5": 0.1]),
            .init(id: "b", countryCode: "MK", gaps: ["A5": 0.34]),
        ])
        #expect(below.peerLearningPairs.isEmpty)

        // Threshold 0 and a single institution: nothing to pair.
        #expect(PriorityAnalysis.rollUp([.init(id: "a", countryCode: "BA", gaps: ["A1": 0.5])], threshold: 0).peerLearningPairs.isEmpty)
        // Threshold 0, two equal gaps: one pair of two different institutions (difference 0).
        let equal = PriorityAnalysis.rollUp([
            .init(id: "b", countryCode: "BA", gaps: ["A1": 0.5]),
            .init(id: "a", countryCode: "BA", gaps: ["A1": 0.5]),
        ], threshold: 0)
        #expect(equal.peerLearningPairs.map { "\($0.strong)>\($0.weak)" } == ["a>b"])
        // A repeated id is one institution (its first entry): no self-pair, counted once.
        let repeated = PriorityAnalysis.rollUp([
            .init(id: "u1", countryCode: "AL", gaps: ["A1": 0.1]),
            .init(id: "u1", countryCode: "AL", gaps: ["A1": 0.9]),
        ])
        #expect(repeated.peerLearningPairs.isEmpty)
        #expect(repeated.country("AL")?.institutionCount == 1)
        #expect(close(repeated.country("AL")?.areas.first?.mean, 0.1))
    }

    @Test("analysis feeds the roll-up: each institution's area gaps")
    func analysisToRollUp() throws {
        // Institution "t" answers the four-area example (G: A1 0.27875, A3 0.05875, A2 0, A4 0);
        // institution "p" answers A1 with Ī 4, P̄ 4 → MWDS 0 → G 0.
        // A1: 0.27875 − 0 = 0.27875 ≥ 0.25 → pair p → t.
        let t = PriorityAnalysis.analyse(fourAreas)
        let p = PriorityAnalysis.analyse([row("A1.1", "A1", "management", n: 10, sumI: 40, sumP: 40)])
        let rollUp = PriorityAnalysis.rollUp([
            .init(id: "t", countryCode: "AL", report: t),
            .init(id: "p", countryCode: "BA", report: p),
        ])
        #expect(close(rollUp.country("AL")?.areas.first { $0.area == "A1" }?.mean, 0.27875))
        #expect(rollUp.country("AL")?.areas.map(\.area) == ["A1", "A2", "A3", "A4"])
        #expect(close(rollUp.region("A1")?.mean, 0.27875 / 2))
        #expect(rollUp.peerLearningPairs.map { "\($0.area):\($0.strong)>\($0.weak)" } == ["A1:p>t"])
        #expect(close(rollUp.peerLearningPairs.first?.difference, 0.27875))
    }
}
