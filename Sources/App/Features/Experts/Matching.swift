import Foundation

// The match score of DESIGN.md section 3.3 "Match score" as pure functions over plain values.
// No database, no HTTP: the service loads the candidate experts of the request's current
// network level, maps them to `ExpertCandidate`, and hands them to `Matching.rank`. Every
// component of every score is returned (raw and weighted), so the UI shows why an expert
// ranks where they do. The conventions the design leaves open are documented on `Matching`.

/// The configurable weights of the match score, the offer threshold and the near-tie band.
///
/// score = topic·w_topic + language·w_language + format·w_format + availability·w_availability
///       + quality·w_quality + proximity·w_proximity − load·w_load
///
/// Decoding fills missing keys with the standard values, so a stored configuration keeps
/// working when a weight is added.
public struct MatchWeights: Codable, Equatable, Sendable {
    public var topic = 0.40
    public var language = 0.15
    public var format = 0.10
    public var availability = 0.10
    public var quality = 0.10
    public var proximity = 0.10
    /// Subtracted: a busier expert scores lower.
    public var load = 0.05
    /// An expert is offered the request automatically only at or above this score (≥ 0.55).
    public var threshold = 0.55
    /// Scores within this distance of the best score of their group (inclusive) are near-ties
    /// and take turns at the top (see `Matching.rank`).
    public var nearTie = 0.02

    /// The weights of DESIGN.md section 3.3.
    public static let standard = MatchWeights()

    public init(
        topic: Double = 0.40, language: Double = 0.15, format: Double = 0.10, availability: Double = 0.10,
        quality: Double = 0.10, proximity: Double = 0.10, load: Double = 0.05,
        threshold: Double = 0.55, nearTie: Double = 0.02
    ) {
        self.topic = topic
        self.language = language
        self.format = format
        self.availability = availability
        self.quality = quality
        self.proximity = proximity
        self.load = load
        self.threshold = threshold
        self.nearTie = nearTie
    }

    private enum CodingKeys: String, CodingKey {
        case topic, language, format, availability, quality, proximity, load, threshold, nearTie
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = MatchWeights.standard
        topic = try c.decodeIfPresent(Double.self, forKey: .topic) ?? d.topic
        language = try c.decodeIfPresent(Double.self, forKey: .language) ?? d.language
        format = try c.decodeIfPresent(Double.self, forKey: .format) ?? d.format
        availability = try c.decodeIfPresent(Double.self, forKey: .availability) ?? d.availability
        quality = try c.decodeIfPresent(Double.self, forKey: .quality) ?? d.quality
        proximity = try c.decodeIfPresent(Double.self, forKey: .proximity) ?? d.proximity
        load = try c.decodeIfPresent(Double.self, forKey: .load) ?? d.load
        threshold = try c.decodeIfPresent(Double.self, forKey: .threshold) ?? d.threshold
        nearTie = try c.decodeIfPresent(Double.self, forKey: .nearTie) ?? d.nearTie
    }
}

/// What matching needs to know about one expert (a projection of the expert profile).
public struct ExpertCandidate: Sendable, Equatable {
    public var id: UUID
    /// IaH area code ("A4") → proficiency 1…4. Values are clamped to 0…4; a missing area is 0.
    public var competencies: [String: Int]
    /// Language codes as stored (compared exactly, e.g. "en", "sr-Latn").
    public var languages: Set<String>
    /// Format codes offered: workshop, webinar, consultation, mentoring, course_review.
    public var formats: Set<String>
    /// Maximum concurrent assignments.
    public var capacity: Int
    /// Assignments currently accepted or planned and not yet delivered.
    public var activeAssignments: Int
    /// Availability windows; they may overlap and need not be sorted.
    public var availability: [DateInterval]
    /// Mean of the expert's evaluations in 0…1; nil when none yet.
    public var quality: Double?
    public var institutionID: UUID?
    /// ISO 3166 alpha-2 (Kosovo "XK").
    public var countryCode: String?
    public var regionCode: String?
    /// Profile lifecycle state is `active` (not nominated, under review, paused or retired).
    public var active: Bool

    public init(
        id: UUID, competencies: [String: Int] = [:], languages: Set<String> = [], formats: Set<String> = [],
        capacity: Int = 1, activeAssignments: Int = 0, availability: [DateInterval] = [], quality: Double? = nil,
        institutionID: UUID? = nil, countryCode: String? = nil, regionCode: String? = nil, active: Bool = true
    ) {
        self.id = id
        self.competencies = competencies
        self.languages = languages
        self.formats = formats
        self.capacity = capacity
        self.activeAssignments = activeAssignments
        self.availability = availability
        self.quality = quality
        self.institutionID = institutionID
        self.countryCode = countryCode
        self.regionCode = regionCode
        self.active = active
    }
}

/// What matching needs to know about one Request for Knowledge.
public struct MatchRequest: Sendable, Equatable {
    /// IaH area code → relative weight (e.g. 1 each). Weights ≤ 0 or not finite count as 0.
    public var areas: [String: Double]
    /// Acceptable languages; empty = any.
    public var languages: Set<String>
    /// Wanted formats; empty = any.
    public var formats: Set<String>
    /// The requested time window; nil = any time.
    public var window: DateInterval?
    /// The requester's institution, country and region (for proximity).
    public var institutionID: UUID?
    public var countryCode: String?
    public var regionCode: String?

    public init(
        areas: [String: Double] = [:], languages: Set<String> = [], formats: Set<String> = [],
        window: DateInterval? = nil, institutionID: UUID? = nil, countryCode: String? = nil, regionCode: String? = nil
    ) {
        self.areas = areas
        self.languages = languages
        self.formats = formats
        self.window = window
        self.institutionID = institutionID
        self.countryCode = countryCode
        self.regionCode = regionCode
    }
}

/// The seven components of the match score. As `MatchResult.components` each is the raw value
/// in 0…1; as `MatchResult.contributions` each is multiplied by its weight (load's contribution
/// is *subtracted* from the score).
public struct MatchComponents: Codable, Equatable, Sendable {
    public var topic: Double
    public var language: Double
    public var format: Double
    public var availability: Double
    public var quality: Double
    public var proximity: Double
    public var load: Double

    public init(topic: Double, language: Double, format: Double, availability: Double, quality: Double, proximity: Double, load: Double) {
        self.topic = topic
        self.language = language
        self.format = format
        self.availability = availability
        self.quality = quality
        self.proximity = proximity
        self.load = load
    }
}

/// One scored expert.
public struct MatchResult: Sendable, Equatable {
    public var expertID: UUID
    /// 0…1, rounded to 4 decimals.
    public var score: Double
    /// Raw components, each 0…1.
    public var components: MatchComponents
    /// Components × weights; score = Σ contributions − contributions.load, clamped and rounded.
    public var contributions: MatchComponents
    /// score ≥ threshold: the expert may be offered the request without an override.
    public var aboveThreshold: Bool

    public init(expertID: UUID, score: Double, components: MatchComponents, contributions: MatchComponents, aboveThreshold: Bool) {
        self.expertID = expertID
        self.score = score
        self.components = components
        self.contributions = contributions
        self.aboveThreshold = aboveThreshold
    }
}

/// Why an expert is not ranked at all, checked in this order.
public enum MatchExclusion: String, Sendable, Codable, CaseIterable {
    /// The profile is not active (nominated, under review, paused or retired).
    case inactive
    /// activeAssignments ≥ capacity.
    case atCapacity
    /// A window is requested and none of the expert's windows overlaps it (availability = 0).
    case unavailable
}

/// The match score and the ranking.
///
/// Components (each 0…1, before weighting):
///
/// - **topic** = Σ_a w_a · p_e(a)/4 / Σ_a w_a over the request's areas a with weight w_a, where
///   p_e(a) is the expert's proficiency in a (1…4, clamped to 0…4, 0 when missing). Weights
///   ≤ 0 or not finite count as 0. 0 when the request has no area with a positive weight.
/// - **language** = 1 when the expert speaks at least one requested language, else 0;
///   1 when the request names no language. Codes are compared exactly.
/// - **format** = |requested formats ∩ expert formats| / |requested formats|; 1 when none requested.
/// - **availability** = the share of the request window covered by the union of the expert's
///   windows (overlapping windows count once); 1 when no window is requested; 0 when the
///   expert has no window. A zero-length request window is an instant: 1 when some expert
///   window contains it (ends included), else 0.
/// - **quality** = the expert's quality clamped to 0…1, or 0.5 (neutral) when nil or not finite.
/// - **proximity** = 1 same institution, 0.6 same country, 0.3 same region, 0 otherwise (or
///   unknown); the first that applies wins. nil never equals nil.
/// - **load** = activeAssignments / capacity clamped to 0…1; 1 when capacity ≤ 0.
///
/// score = Σ weight × component, with load subtracted, clamped to 0…1 and rounded to 4
/// decimals (half away from zero); a non-finite sum scores 0. `aboveThreshold` is
/// score ≥ threshold.
///
/// Exclusions, in this order: `.inactive`; `.atCapacity` (capacity ≤ activeAssignments);
/// `.unavailable` (a window is requested and availability = 0).
public enum Matching {
    public static let proximitySameInstitution = 1.0
    public static let proximitySameCountry = 0.6
    public static let proximitySameRegion = 0.3
    /// Quality of an expert without evaluations.
    public static let neutralQuality = 0.5

    // MARK: Components and score

    /// The seven raw components of `e` for `r`, as defined on `Matching`.
    public static func components(_ e: ExpertCandidate, _ r: MatchRequest) -> MatchComponents {
        withUnsafePointer(to: e) { components($0, Prepared(r)) }
    }

    /// Weighted sum with load subtracted, clamped to 0…1, rounded to 4 decimals.
    public static func score(_ c: MatchComponents, _ w: MatchWeights) -> Double {
        let raw = w.topic * c.topic + w.language * c.language + w.format * c.format
            + w.availability * c.availability + w.quality * c.quality + w.proximity * c.proximity
            - w.load * c.load
        guard raw.isFinite else { return 0 }
        return (min(max(raw, 0), 1) * 10_000).rounded() / 10_000
    }

    /// The components multiplied by their weights (load positive; the score subtracts it).
    public static func contributions(_ c: MatchComponents, _ w: MatchWeights) -> MatchComponents {
        MatchComponents(
            topic: w.topic * c.topic, language: w.language * c.language, format: w.format * c.format,
            availability: w.availability * c.availability, quality: w.quality * c.quality,
            proximity: w.proximity * c.proximity, load: w.load * c.load)
    }

    /// The full result for one expert, excluded or not — e.g. to show the score of an expert a
    /// coordinator offers the request to by override.
    public static func result(_ e: ExpertCandidate, for r: MatchRequest, weights: MatchWeights) -> MatchResult {
        result(e.id, withUnsafePointer(to: e) { components($0, Prepared(r)) }, weights)
    }

    /// Why `e` is not ranked for `r`, or nil when it is eligible.
    public static func exclusion(_ e: ExpertCandidate, _ r: MatchRequest) -> MatchExclusion? {
        if let quick = withUnsafePointer(to: e, quickExclusion) { return quick }
        if let window = r.window, availability(e.availability, in: window) == 0 { return .unavailable }
        return nil
    }

    // MARK: Ranking

    /// Ranked eligible candidates, best first: excluded candidates are left out, the rest are
    /// sorted by score descending, then by id ascending (canonical UUID string order).
    ///
    /// Near-ties: walking down the sorted list, a *tie group* starts at the first candidate not
    /// yet grouped and takes every following candidate whose score is within `weights.nearTie`
    /// (inclusive) of the group's first score **and** on the same side of the threshold (so a
    /// rotation never lifts a below-threshold expert above an above-threshold one). Each group
    /// is rotated left by `rotation` modulo its size (negative values rotate right), so passing
    /// e.g. the number of offers made so far lets near-equal experts take turns at the top.
    /// Rotation never moves a candidate out of its group. rotation 0 = plain sort.
    ///
    /// Each candidate is scored once; the ordering is a counting sort over the 10 001 possible
    /// scores plus a sort of each (small) set of equal scores by id — no quadratic work.
    public static func rank(_ candidates: [ExpertCandidate], for r: MatchRequest, weights: MatchWeights, rotation: Int = 0) -> [MatchResult] {
        let prepared = Prepared(r)
        // Results stay where they are; only small rows (score level, id key, index) move.
        var results: [MatchResult] = []
        var rows: [Row] = []
        results.reserveCapacity(candidates.count)
        rows.reserveCapacity(candidates.count)
        // Each candidate is read in place through a pointer: copying the struct out of the array
        // would retain and release its four collections, which costs more than scoring it.
        candidates.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            for i in 0..<buffer.count {
                let e = base + i
                if quickExclusion(e) != nil { continue }
                let c = components(e, prepared)
                if prepared.window != nil && c.availability == 0 { continue }
                let id = e.pointee.id
                let result = result(id, c, weights)
                // Scores are multiples of 0.0001 in 0…1: level 0 is score 1, level 10 000 is score 0.
                let level = levels - 1 - Int((result.score * 10_000).rounded())
                rows.append(Row(level: level, key: SortKey(id), index: results.count))
                results.append(result)
            }
        }

        // Counting sort by score (linear), then by id within each score.
        var starts = [Int](repeating: 0, count: levels + 1)
        for row in rows { starts[row.level + 1] += 1 }
        for l in 0..<levels { starts[l + 1] += starts[l] }
        var slot = starts
        var order = rows
        for row in rows {
            order[slot[row.level]] = row
            slot[row.level] += 1
        }
        for l in 0..<levels where starts[l + 1] - starts[l] > 1 {
            order[starts[l]..<starts[l + 1]].sort { $0.key < $1.key }
        }

        // Near-tie groups, each rotated.
        var i = 0
        let band = max(weights.nearTie, 0) + 1e-9
        while i < order.count {
            let first = results[order[i].index]
            var j = i + 1
            while j < order.count {
                let other = results[order[j].index]
                guard first.score - other.score <= band, other.aboveThreshold == first.aboveThreshold else { break }
                j += 1
            }
            let size = j - i
            if size > 1 {
                let k = ((rotation % size) + size) % size
                if k != 0 {
                    // Rotate left by k in place: reverse both parts, then the whole group.
                    order[i..<(i + k)].reverse()
                    order[(i + k)..<j].reverse()
                    order[i..<j].reverse()
                }
            }
            i = j
        }

        // Put the results into that order in place (each moved once, following the cycles of
        // the permutation) rather than copying them all into a new array.
        var source = order.map(\.index)
        for start in source.indices where source[start] != start {
            let held = results[start]
            var k = start
            while source[k] != start {
                let from = source[k]
                results[k] = results[from]
                source[k] = k
                k = from
            }
            results[k] = held
            source[k] = k
        }
        return results
    }

    // MARK: Internals

    /// The request, normalised once for a whole ranking.
    struct Prepared {
        var areas: [(code: String, weight: Double)]
        var areaWeight: Double
        var languages: [String]
        var formats: [String]
        var window: DateInterval?
        var institutionID: UUID?
        var countryCode: String?
        var regionCode: String?

        init(_ r: MatchRequest) {
            // Sorted by code so the floating-point sum is the same in every process.
            areas = r.areas.compactMap { $0.value.isFinite && $0.value > 0 ? ($0.key, $0.value) : nil }
                .sorted { $0.code < $1.code }
            areaWeight = areas.reduce(0) { $0 + $1.weight }
            languages = r.languages.sorted()
            formats = r.formats.sorted()
            window = r.window
            institutionID = r.institutionID
            countryCode = r.countryCode
            regionCode = r.regionCode
        }
    }

    /// Distinct scores: 0, 0.0001, …, 1.
    static let levels = 10_001

    struct Row {
        var level: Int
        var key: SortKey
        var index: Int
    }

    /// The UUID's 16 bytes as two big-endian integers: ordering them orders the canonical strings.
    struct SortKey: Comparable {
        var high: UInt64
        var low: UInt64

        init(_ id: UUID) {
            var high: UInt64 = 0, low: UInt64 = 0
            withUnsafeBytes(of: id.uuid) { bytes in
                for i in 0..<8 { high = high << 8 | UInt64(bytes[i]) }
                for i in 8..<16 { low = low << 8 | UInt64(bytes[i]) }
            }
            self.high = high
            self.low = low
        }

        static func < (a: SortKey, b: SortKey) -> Bool {
            a.high != b.high ? a.high < b.high : a.low < b.low
        }
    }

    static func quickExclusion(_ e: UnsafePointer<ExpertCandidate>) -> MatchExclusion? {
        if !e.pointee.active { return .inactive }
        if e.pointee.capacity <= e.pointee.activeAssignments { return .atCapacity }
        return nil
    }

    static func result(_ id: UUID, _ c: MatchComponents, _ w: MatchWeights) -> MatchResult {
        let s = score(c, w)
        return MatchResult(expertID: id, score: s, components: c, contributions: contributions(c, w), aboveThreshold: s >= w.threshold)
    }

    /// Small sets are intersected by scanning (a few string comparisons beat hashing);
    /// larger ones by lookup. Either way the result is the same.
    static let scanLimit = 32

    /// The components, reading the candidate in place (see `rank`).
    static func components(_ candidate: UnsafePointer<ExpertCandidate>, _ r: Prepared) -> MatchComponents {
        // topic: gather the expert's proficiency per requested area, then sum in the request's
        // (sorted) area order so the floating-point result never depends on dictionary order.
        var topic = 0.0
        if r.areaWeight > 0 {
            let n = r.areas.count
            let sum = withUnsafeTemporaryAllocation(of: Int.self, capacity: n) { proficiency -> Double in
                proficiency.initialize(repeating: 0)
                if candidate.pointee.competencies.count * n <= scanLimit {
                    for (code, p) in candidate.pointee.competencies {
                        if let i = r.areas.firstIndex(where: { $0.code == code }) { proficiency[i] = p }
                    }
                } else {
                    for i in 0..<n { proficiency[i] = candidate.pointee.competencies[r.areas[i].code] ?? 0 }
                }
                var sum = 0.0
                for i in 0..<n { sum += r.areas[i].weight * Double(min(max(proficiency[i], 0), 4)) / 4 }
                return sum
            }
            topic = min(max(sum / r.areaWeight, 0), 1)
        }
        // language
        var language = 1.0
        if !r.languages.isEmpty {
            let shared = candidate.pointee.languages.count * r.languages.count <= scanLimit
                ? candidate.pointee.languages.contains(where: r.languages.contains)
                : r.languages.contains(where: candidate.pointee.languages.contains)
            language = shared ? 1 : 0
        }
        // format (both sides are sets, so counting either side's members in the other counts
        // the intersection)
        var format = 1.0
        if !r.formats.isEmpty {
            var shared = 0
            if candidate.pointee.formats.count * r.formats.count <= scanLimit {
                for f in candidate.pointee.formats where r.formats.contains(f) { shared += 1 }
            } else {
                for f in r.formats where candidate.pointee.formats.contains(f) { shared += 1 }
            }
            format = Double(shared) / Double(r.formats.count)
        }
        // availability
        let availability = r.window.map { Matching.availability(candidate.pointee.availability, in: $0) } ?? 1
        // quality
        var quality = neutralQuality
        if let q = candidate.pointee.quality, q.isFinite { quality = min(max(q, 0), 1) }
        // proximity
        var proximity = 0.0
        if let a = r.institutionID, a == candidate.pointee.institutionID {
            proximity = proximitySameInstitution
        } else if let a = r.countryCode, a == candidate.pointee.countryCode {
            proximity = proximitySameCountry
        } else if let a = r.regionCode, a == candidate.pointee.regionCode {
            proximity = proximitySameRegion
        }
        // load
        let capacity = candidate.pointee.capacity, active = candidate.pointee.activeAssignments
        let load = capacity <= 0 ? 1 : min(max(Double(active) / Double(capacity), 0), 1)
        return MatchComponents(
            topic: topic, language: language, format: format, availability: availability,
            quality: quality, proximity: proximity, load: load)
    }

    /// Share of `window` covered by the union of `windows`, 0…1.
    static func availability(_ windows: [DateInterval], in window: DateInterval) -> Double {
        let ws = window.start.timeIntervalSinceReferenceDate
        let we = window.end.timeIntervalSinceReferenceDate
        guard we > ws else {
            return windows.contains { $0.start.timeIntervalSinceReferenceDate <= ws && ws <= $0.end.timeIntervalSinceReferenceDate } ? 1 : 0
        }
        // Windows in start order (the usual case) merge in one pass without allocating;
        // otherwise the clipped windows are sorted first.
        var covered = 0.0
        var runStart = 0.0, runEnd = 0.0, open = false
        for w in windows {
            let s = max(w.start.timeIntervalSinceReferenceDate, ws)
            let e = min(w.end.timeIntervalSinceReferenceDate, we)
            guard e > s else { continue }
            if !open {
                (runStart, runEnd, open) = (s, e, true)
            } else if s < runStart {
                return sortedAvailability(windows, ws, we)
            } else if s <= runEnd {
                runEnd = max(runEnd, e)
            } else {
                covered += runEnd - runStart
                (runStart, runEnd) = (s, e)
            }
        }
        if open { covered += runEnd - runStart }
        return min(max(covered / (we - ws), 0), 1)
    }

    private static func sortedAvailability(_ windows: [DateInterval], _ ws: Double, _ we: Double) -> Double {
        var clipped: [(start: Double, end: Double)] = []
        for w in windows {
            let s = max(w.start.timeIntervalSinceReferenceDate, ws)
            let e = min(w.end.timeIntervalSinceReferenceDate, we)
            if e > s { clipped.append((s, e)) }
        }
        clipped.sort { $0.start < $1.start }
        var covered = 0.0
        var runStart = clipped[0].start, runEnd = clipped[0].end
        for c in clipped.dropFirst() {
            if c.start <= runEnd {
                runEnd = max(runEnd, c.end)
            } else {
                covered += runEnd - runStart
                (runStart, runEnd) = (c.start, c.end)
            }
        }
        covered += runEnd - runStart
        return min(max(covered / (we - ws), 0), 1)
    }
}
