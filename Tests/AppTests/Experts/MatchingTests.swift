@testable import App
import Foundation
import Testing

/// The match score of DESIGN.md section 3.3 and the ranking built on it. Every expected value
/// is worked out by hand in the comments.
@Suite("Experts: match score and ranking")
struct MatchingTests {
    // MARK: Fixtures

    /// |a − b| < tolerance.
    func close(_ a: Double, _ b: Double, tolerance: Double = 1e-9) -> Bool { abs(a - b) < tolerance }

    func closeAll(_ c: MatchComponents, _ e: MatchComponents) -> Bool {
        close(c.topic, e.topic) && close(c.language, e.language) && close(c.format, e.format)
            && close(c.availability, e.availability) && close(c.quality, e.quality)
            && close(c.proximity, e.proximity) && close(c.load, e.load)
    }

    /// A fixed id whose last digits are `n`, so id order is numeric order.
    static func id(_ n: Int) -> UUID { UUID(uuidString: String(format: "00000000-0000-0000-0000-%012ld", n))! }

    static let day: TimeInterval = 86_400
    static let t0 = Date(timeIntervalSince1970: 1_767_225_600)  // 2026-01-01T00:00:00Z
    /// Days a…b after t0.
    static func days(_ a: Double, _ b: Double) -> DateInterval {
        DateInterval(start: t0.addingTimeInterval(a * day), end: t0.addingTimeInterval(b * day))
    }

    static let home = id(1001)
    static let elsewhere = id(1002)

    /// The request of the worked example: areas A4 and A7 (weight 1 each), English or Serbian,
    /// a workshop or a webinar, days 0–10, from institution `home` in RS, Western Balkans.
    static let request = MatchRequest(
        areas: ["A4": 1, "A7": 1], languages: ["en", "sr"], formats: ["workshop", "webinar"],
        window: days(0, 10), institutionID: home, countryCode: "RS", regionCode: "WB")

    /// X: topic (4/4 + 2/4)/2 = 0.75; language en → 1; formats {workshop} → 1/2 = 0.5;
    /// windows days 0–5 ∪ 3–8 = 0–8 → 8/10 = 0.8; quality 0.9; same institution → 1;
    /// load 1/4 = 0.25.
    static let x = ExpertCandidate(
        id: id(1), competencies: ["A4": 4, "A7": 2], languages: ["en"], formats: ["workshop"],
        capacity: 4, activeAssignments: 1, availability: [days(0, 5), days(3, 8)], quality: 0.9,
        institutionID: home, countryCode: "RS", regionCode: "WB")

    /// Y: topic (3/4 + 3/4)/2 = 0.75; language de only → 0; formats ⊇ both → 2/2 = 1;
    /// window days −5…20 covers all → 1; no evaluations → 0.5; same country → 0.6; load 0/2 = 0.
    static let y = ExpertCandidate(
        id: id(2), competencies: ["A4": 3, "A7": 3], languages: ["de"], formats: ["workshop", "webinar", "mentoring"],
        capacity: 2, activeAssignments: 0, availability: [days(-5, 20)], quality: nil,
        institutionID: elsewhere, countryCode: "RS", regionCode: "WB")

    /// Z: topic (2/4 + 0)/2 = 0.25; language sr → 1; no formats → 0; windows days 5–10 ∪ 9–12,
    /// clipped to 5–10 → 5/10 = 0.5; quality 0.4; same region only → 0.3; load 2/3.
    static let z = ExpertCandidate(
        id: id(3), competencies: ["A4": 2], languages: ["sr", "en"], formats: [],
        capacity: 3, activeAssignments: 2, availability: [days(5, 10), days(9, 12)], quality: 0.4,
        institutionID: nil, countryCode: "ME", regionCode: "WB")

    // MARK: Worked examples

    @Test("worked example X: every component and the score, 0.7575")
    func workedExampleX() {
        let c = Matching.components(Self.x, Self.request)
        #expect(closeAll(c, MatchComponents(topic: 0.75, language: 1, format: 0.5, availability: 0.8, quality: 0.9, proximity: 1, load: 0.25)))
        // 0.40·0.75 + 0.15·1 + 0.10·0.5 + 0.10·0.8 + 0.10·0.9 + 0.10·1 − 0.05·0.25
        // = 0.30 + 0.15 + 0.05 + 0.08 + 0.09 + 0.10 − 0.0125 = 0.7575
        #expect(Matching.score(c, .standard) == 0.7575)
        let result = Matching.result(Self.x, for: Self.request, weights: .standard)
        #expect(result.score == 0.7575)
        #expect(result.aboveThreshold)
        #expect(closeAll(result.contributions, MatchComponents(topic: 0.30, language: 0.15, format: 0.05, availability: 0.08, quality: 0.09, proximity: 0.10, load: 0.0125)))
    }

    @Test("worked example Y: no shared language, no evaluations yet (neutral 0.5), same country — 0.61")
    func workedExampleY() {
        let c = Matching.components(Self.y, Self.request)
        #expect(closeAll(c, MatchComponents(topic: 0.75, language: 0, format: 1, availability: 1, quality: 0.5, proximity: 0.6, load: 0)))
        // 0.30 + 0 + 0.10 + 0.10 + 0.05 + 0.06 − 0 = 0.61
        #expect(Matching.score(c, .standard) == 0.61)
        #expect(Matching.result(Self.y, for: Self.request, weights: .standard).aboveThreshold)
    }

    @Test("worked example Z: a missing area counts 0, windows are clipped and merged, score rounded to 0.3367")
    func workedExampleZ() {
        let c = Matching.components(Self.z, Self.request)
        #expect(closeAll(c, MatchComponents(topic: 0.25, language: 1, format: 0, availability: 0.5, quality: 0.4, proximity: 0.3, load: 2.0 / 3.0)))
        // 0.10 + 0.15 + 0 + 0.05 + 0.04 + 0.03 − 0.05·2/3 = 0.37 − 0.0333… = 0.33666… → 0.3367
        #expect(Matching.score(c, .standard) == 0.3367)
        let result = Matching.result(Self.z, for: Self.request, weights: .standard)
        #expect(!result.aboveThreshold)
        #expect(close(result.contributions.load, 0.05 * 2 / 3))
    }

    @Test("ranking of the worked example: X, Y, Z, with the threshold flag on X and Y only")
    func rankingOfWorkedExample() {
        let ranked = Matching.rank([Self.z, Self.y, Self.x], for: Self.request, weights: .standard)
        #expect(ranked.map(\.expertID) == [Self.x.id, Self.y.id, Self.z.id])
        #expect(ranked.map(\.score) == [0.7575, 0.61, 0.3367])
        #expect(ranked.map(\.aboveThreshold) == [true, true, false])
        #expect(ranked[0] == Matching.result(Self.x, for: Self.request, weights: .standard))
    }

    @Test("other weights change the order: format-heavy, language- and proximity-blind weights put Y first")
    func weightsChangeTheOrder() {
        let w = MatchWeights(topic: 0.40, language: 0, format: 0.30, availability: 0.10, quality: 0.10, proximity: 0, load: 0.05)
        // X: 0.30 + 0 + 0.30·0.5 + 0.08 + 0.09 + 0 − 0.0125 = 0.6075
        // Y: 0.30 + 0 + 0.30·1   + 0.10 + 0.05 + 0 − 0      = 0.75
        // Z: 0.10 + 0 + 0        + 0.05 + 0.04 + 0 − 0.0333… = 0.15666… → 0.1567
        let ranked = Matching.rank([Self.x, Self.y, Self.z], for: Self.request, weights: w)
        #expect(ranked.map(\.expertID) == [Self.y.id, Self.x.id, Self.z.id])
        #expect(ranked.map(\.score) == [0.75, 0.6075, 0.1567])
    }

    @Test("the threshold flag is score ≥ threshold, inclusive")
    func thresholdFlag() {
        // Y scores 0.61 exactly.
        var w = MatchWeights.standard
        w.threshold = 0.61
        #expect(Matching.result(Self.y, for: Self.request, weights: w).aboveThreshold)
        w.threshold = 0.6101
        #expect(!Matching.result(Self.y, for: Self.request, weights: w).aboveThreshold)
        w.threshold = 0.80
        #expect(Matching.rank([Self.x, Self.y, Self.z], for: Self.request, weights: w).allSatisfy { !$0.aboveThreshold })
    }

    // MARK: Components one by one

    @Test("topic: weighted areas, proficiency/4, missing areas 0, non-positive weights ignored, no areas 0")
    func topic() {
        // A4 weight 2, A7 weight 1: (2·4/4 + 1·2/4)/3 = 2.5/3
        var r = MatchRequest(areas: ["A4": 2, "A7": 1])
        #expect(close(Matching.components(Self.x, r).topic, 2.5 / 3))
        // A9 weight 0 and A1 weight −1 are ignored: A4 alone → 1
        r.areas = ["A4": 1, "A9": 0, "A1": -1, "A2": .nan]
        #expect(Matching.components(Self.x, r).topic == 1)
        r.areas = ["A13": 1]
        #expect(Matching.components(Self.x, r).topic == 0)
        r.areas = [:]
        #expect(Matching.components(Self.x, r).topic == 0)
        // Out-of-range proficiency is clamped to 0…4.
        let odd = ExpertCandidate(id: Self.id(9), competencies: ["A4": 7, "A7": -2])
        #expect(Matching.components(odd, MatchRequest(areas: ["A4": 1, "A7": 1])).topic == 0.5)
    }

    @Test("language: any shared language is 1, none 0, a request naming none is 1")
    func language() {
        #expect(Matching.components(Self.x, MatchRequest(languages: ["en"])).language == 1)
        #expect(Matching.components(Self.x, MatchRequest(languages: ["sq", "mk"])).language == 0)
        #expect(Matching.components(Self.x, MatchRequest(languages: [])).language == 1)
    }

    @Test("format: share of requested formats offered, 1 when none requested")
    func format() {
        #expect(Matching.components(Self.y, MatchRequest(formats: ["workshop", "webinar", "consultation", "course_review"])).format == 0.5)
        #expect(Matching.components(Self.z, MatchRequest(formats: ["workshop"])).format == 0)
        #expect(Matching.components(Self.z, MatchRequest(formats: [])).format == 1)
    }

    @Test("availability: union of windows over the request window, 1 without a window, instants")
    func availability() {
        var r = MatchRequest(window: Self.days(0, 10))
        // Overlapping and unsorted windows count once: 6–9 ∪ 1–3 ∪ 2–4 = 1–4 ∪ 6–9 → 6/10.
        var e = ExpertCandidate(id: Self.id(9), availability: [Self.days(6, 9), Self.days(1, 3), Self.days(2, 4)])
        #expect(close(Matching.components(e, r).availability, 0.6))
        // A window nested in another adds nothing: 0–10 ∪ 2–3 → 1.
        e.availability = [Self.days(0, 10), Self.days(2, 3)]
        #expect(Matching.components(e, r).availability == 1)
        e.availability = []
        #expect(Matching.components(e, r).availability == 0)
        r.window = nil
        #expect(Matching.components(e, r).availability == 1)
        // A zero-length request window is an instant: covered when inside a window (ends included).
        r.window = DateInterval(start: Self.t0.addingTimeInterval(5 * Self.day), duration: 0)
        e.availability = [Self.days(1, 5)]
        #expect(Matching.components(e, r).availability == 1)
        e.availability = [Self.days(6, 7)]
        #expect(Matching.components(e, r).availability == 0)
    }

    @Test("quality: the mean evaluation clamped to 0…1, neutral 0.5 when none")
    func quality() {
        var e = ExpertCandidate(id: Self.id(9), quality: nil)
        #expect(Matching.components(e, MatchRequest()).quality == 0.5)
        e.quality = 0.2
        #expect(Matching.components(e, MatchRequest()).quality == 0.2)
        e.quality = 1.7
        #expect(Matching.components(e, MatchRequest()).quality == 1)
        e.quality = .nan
        #expect(Matching.components(e, MatchRequest()).quality == 0.5)
    }

    @Test("proximity levels: same institution 1, same country 0.6, same region 0.3, otherwise 0; unknown never matches")
    func proximityLevels() {
        let r = MatchRequest(institutionID: Self.home, countryCode: "RS", regionCode: "WB")
        func proximity(_ inst: UUID?, _ country: String?, _ region: String?) -> Double {
            Matching.components(ExpertCandidate(id: Self.id(9), institutionID: inst, countryCode: country, regionCode: region), r).proximity
        }
        #expect(proximity(Self.home, "RS", "WB") == 1)
        #expect(proximity(Self.elsewhere, "RS", "WB") == 0.6)
        #expect(proximity(Self.elsewhere, "XK", "WB") == 0.3)
        #expect(proximity(Self.elsewhere, "AT", "EU") == 0)
        #expect(proximity(nil, nil, nil) == 0)
        // The request's own unknowns never match the expert's unknowns.
        let anonymous = MatchRequest()
        #expect(Matching.components(ExpertCandidate(id: Self.id(9)), anonymous).proximity == 0)
    }

    @Test("load: active assignments over capacity, 0…1")
    func load() {
        #expect(Matching.components(ExpertCandidate(id: Self.id(9), capacity: 5, activeAssignments: 0), MatchRequest()).load == 0)
        #expect(Matching.components(ExpertCandidate(id: Self.id(9), capacity: 5, activeAssignments: 2), MatchRequest()).load == 0.4)
        #expect(Matching.components(ExpertCandidate(id: Self.id(9), capacity: 5, activeAssignments: 9), MatchRequest()).load == 1)
        #expect(Matching.components(ExpertCandidate(id: Self.id(9), capacity: 0, activeAssignments: 0), MatchRequest()).load == 1)
    }

    @Test("the score is clamped to 0…1 and rounded to 4 decimals")
    func scoreClampAndRounding() {
        let zero = MatchComponents(topic: 0, language: 0, format: 0, availability: 0, quality: 0, proximity: 0, load: 1)
        #expect(Matching.score(zero, .standard) == 0)  // −0.05 → 0
        let full = MatchComponents(topic: 1, language: 1, format: 1, availability: 1, quality: 1, proximity: 1, load: 0)
        #expect(Matching.score(full, .standard) == 0.95)
        #expect(Matching.score(full, MatchWeights(topic: 2)) == 1)
        let third = MatchComponents(topic: 1.0 / 3.0, language: 0, format: 0, availability: 0, quality: 0, proximity: 0, load: 0)
        #expect(Matching.score(third, MatchWeights(topic: 1)) == 0.3333)
        #expect(Matching.score(third, MatchWeights(topic: .nan)) == 0)
    }

    // MARK: Exclusions

    @Test("exclusions: inactive, at capacity, unavailable — each left out of the ranking")
    func exclusions() {
        var inactive = Self.x
        inactive.id = Self.id(11)
        inactive.active = false
        var full = Self.x
        full.id = Self.id(12)
        full.activeAssignments = full.capacity
        var noCapacity = Self.x
        noCapacity.id = Self.id(13)
        noCapacity.capacity = 0
        noCapacity.activeAssignments = 0
        var away = Self.x
        away.id = Self.id(14)
        away.availability = [Self.days(11, 20)]
        var touching = Self.x  // ends exactly when the request window starts: no overlap
        touching.id = Self.id(15)
        touching.availability = [Self.days(-3, 0)]
        var noWindows = Self.x
        noWindows.id = Self.id(16)
        noWindows.availability = []

        #expect(Matching.exclusion(Self.x, Self.request) == nil)
        #expect(Matching.exclusion(inactive, Self.request) == .inactive)
        #expect(Matching.exclusion(full, Self.request) == .atCapacity)
        #expect(Matching.exclusion(noCapacity, Self.request) == .atCapacity)
        #expect(Matching.exclusion(away, Self.request) == .unavailable)
        #expect(Matching.exclusion(touching, Self.request) == .unavailable)
        #expect(Matching.exclusion(noWindows, Self.request) == .unavailable)

        // Checked in order: an inactive expert at capacity is reported inactive.
        var both = inactive
        both.activeAssignments = both.capacity
        #expect(Matching.exclusion(both, Self.request) == .inactive)

        // Without a requested window nobody is unavailable.
        var anyTime = Self.request
        anyTime.window = nil
        #expect(Matching.exclusion(noWindows, anyTime) == nil)
        #expect(Matching.exclusion(away, anyTime) == nil)

        let ranked = Matching.rank([inactive, full, noCapacity, away, touching, noWindows, Self.x], for: Self.request, weights: .standard)
        #expect(ranked.map(\.expertID) == [Self.x.id])
        let rankedAnyTime = Matching.rank([inactive, full, noWindows, Self.x], for: anyTime, weights: .standard)
        #expect(Set(rankedAnyTime.map(\.expertID)) == [noWindows.id, Self.x.id])
    }

    // MARK: Ties and rotation

    /// An expert who scores 0.75 + 0.1·quality on a request for A4 with nothing else asked:
    /// topic 1, language 1, format 1, availability 1, proximity 0, load 0.
    func tied(_ n: Int, quality: Double?) -> ExpertCandidate {
        ExpertCandidate(id: Self.id(n), competencies: ["A4": 4], capacity: 1, quality: quality)
    }

    @Test("near-ties take turns at the top with the rotation, never leaving their tie group")
    func nearTieRotation() {
        // a 0.85, b 0.84, c 0.835 — within 0.02 of 0.85: group 1.
        // d 0.81 (0.04 below 0.85) starts group 2; e 0.80 is within 0.02 of 0.81: group 2.
        let a = tied(1, quality: 1.0), b = tied(2, quality: 0.9), c = tied(3, quality: 0.85)
        let d = tied(4, quality: 0.6), e = tied(5, quality: nil)
        let all = [e, c, a, d, b]
        let r = MatchRequest(areas: ["A4": 1])
        func order(_ rotation: Int) -> [UUID] {
            Matching.rank(all, for: r, weights: .standard, rotation: rotation).map(\.expertID)
        }
        #expect(Matching.rank(all, for: r, weights: .standard).map(\.score) == [0.85, 0.84, 0.835, 0.81, 0.8])
        #expect(order(0) == [a, b, c, d, e].map(\.id))
        #expect(order(1) == [b, c, a, e, d].map(\.id))
        #expect(order(2) == [c, a, b, d, e].map(\.id))
        #expect(order(3) == [a, b, c, e, d].map(\.id))
        #expect(order(-1) == [c, a, b, e, d].map(\.id))
        // Whatever the rotation, the top three are the tie group and the scores stay attached.
        for rotation in 0..<7 {
            let ranked = Matching.rank(all, for: r, weights: .standard, rotation: rotation)
            #expect(Set(ranked.prefix(3).map(\.expertID)) == [a.id, b.id, c.id])
            #expect(Set(ranked.suffix(2).map(\.expertID)) == [d.id, e.id])
            for result in ranked {
                let expert = all.first { $0.id == result.expertID }!
                #expect(result == Matching.result(expert, for: r, weights: .standard))
            }
        }
        // With a zero band only exact ties rotate: everything stays in score order.
        var strict = MatchWeights.standard
        strict.nearTie = 0
        #expect(Matching.rank(all, for: r, weights: strict, rotation: 1).map(\.expertID) == [a, b, c, d, e].map(\.id))
    }

    @Test("the near-tie band is inclusive: 0.85 and 0.83 tie with the standard 0.02")
    func nearTieBandInclusive() {
        let a = tied(1, quality: 1.0), b = tied(2, quality: 0.8)  // 0.85, 0.83
        let r = MatchRequest(areas: ["A4": 1])
        #expect(Matching.rank([a, b], for: r, weights: .standard, rotation: 1).map(\.expertID) == [b.id, a.id])
        let c = tied(3, quality: 0.79)  // 0.829: outside
        #expect(Matching.rank([a, c], for: r, weights: .standard, rotation: 1).map(\.expertID) == [a.id, c.id])
    }

    @Test("rotation never lifts a below-threshold expert above an above-threshold one")
    func rotationRespectsThreshold() {
        let a = tied(1, quality: 1.0), b = tied(2, quality: 0.9)  // 0.85, 0.84
        var w = MatchWeights.standard
        w.threshold = 0.845
        let ranked = Matching.rank([a, b], for: MatchRequest(areas: ["A4": 1]), weights: w, rotation: 1)
        #expect(ranked.map(\.expertID) == [a.id, b.id])
        #expect(ranked.map(\.aboveThreshold) == [true, false])
    }

    @Test("equal scores are ordered by id when not rotated")
    func exactTiesById() {
        let r = MatchRequest(areas: ["A4": 1])
        let experts = [tied(7, quality: 0.5), tied(3, quality: 0.5), tied(5, quality: 0.5)]
        #expect(Matching.rank(experts, for: r, weights: .standard).map(\.expertID) == [Self.id(3), Self.id(5), Self.id(7)])
        // Id order is the canonical string order, byte by byte.
        let hi = ExpertCandidate(id: UUID(uuidString: "F0000000-0000-0000-0000-000000000000")!, competencies: ["A4": 4])
        let lo = ExpertCandidate(id: UUID(uuidString: "0F000000-0000-0000-0000-0000000000FF")!, competencies: ["A4": 4])
        #expect(Matching.rank([hi, lo], for: r, weights: .standard).map(\.expertID) == [lo.id, hi.id])
    }

    // MARK: Configuration and scale

    @Test("stored weights decode with the standard values for missing keys")
    func weightsDecodeWithDefaults() throws {
        let json = #"{"topic": 0.5, "threshold": 0.6}"#
        let w = try JSONDecoder().decode(MatchWeights.self, from: Data(json.utf8))
        var expected = MatchWeights.standard
        expected.topic = 0.5
        expected.threshold = 0.6
        #expect(w == expected)
        let roundTrip = try JSONDecoder().decode(MatchWeights.self, from: JSONEncoder().encode(expected))
        #expect(roundTrip == expected)
    }

    @Test("50,000 candidates are ranked: sorted up to the near-tie band, none lost (speed: benchmarks/)")
    func scale() throws {
        let areas = ["A1", "A2", "A3", "A4", "A5", "A6", "A7", "A8", "A9", "A10", "A11", "A12", "A13"]
        let countries = ["AL", "XK", "BA", "ME", "MK", "RS"]
        let languages = ["en", "sq", "sr", "mk", "bs", "hr"]
        var candidates: [ExpertCandidate] = []
        candidates.reserveCapacity(50_000)
        for n in 0..<50_000 {
            var competencies: [String: Int] = [:]
            for k in 0..<4 { competencies[areas[(n * 7 + k * 3) % areas.count]] = 1 + (n + k) % 4 }
            candidates.append(ExpertCandidate(
                id: Self.id(n), competencies: competencies, languages: [languages[n % 6], "en"],
                formats: n % 2 == 0 ? ["workshop", "webinar"] : ["consultation"],
                capacity: 1 + n % 5, activeAssignments: n % 6, availability: [Self.days(Double(n % 20), Double(n % 20 + 15))],
                quality: n % 3 == 0 ? nil : Double(n % 10) / 10, institutionID: nil,
                countryCode: countries[n % 6], regionCode: "WB", active: n % 50 != 0))
        }
        let r = MatchRequest(areas: ["A4": 1, "A7": 1, "A12": 0.5], languages: ["sr"], formats: ["workshop"],
                             window: Self.days(5, 25), countryCode: "RS", regionCode: "WB")
        let ranked = Matching.rank(candidates, for: r, weights: .standard, rotation: 3)

        let eligible = candidates.filter { Matching.exclusion($0, r) == nil }
        #expect(ranked.count == eligible.count)
        #expect(Set(ranked.map(\.expertID)) == Set(eligible.map(\.id)))
        // Rotation stays within the near-tie band, so the list is sorted up to it.
        let band = MatchWeights.standard.nearTie + 1e-9
        #expect(zip(ranked, ranked.dropFirst()).allSatisfy { $1.score <= $0.score + band })
        let best = try #require(ranked.map(\.score).max())
        let first = try #require(ranked.first)
        #expect(first.score >= best - band)
        #expect(first.aboveThreshold == (best >= MatchWeights.standard.threshold))
    }
}
