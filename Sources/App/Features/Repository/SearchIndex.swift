import Fluent
import FluentSQL
import Foundation
import Vapor

/// What the index keeps of a record: the text to match, the facets to count, and who may see it.
struct SearchDocument: Sendable {
    var recordID: UUID
    var versionID: UUID
    var institutionID: UUID
    var visibility: RecordVisibility
    var title: String
    /// Description, creators, audience, origin and the text extracted from the files.
    var body: String
    var publishedAt: Date
    /// (facet, value) pairs, e.g. ("area", "A4"), ("language", "sq").
    var facets: [(String, String)]
}

/// Which records a searcher may see.
struct VisibilityScope: Sendable, Hashable {
    /// Admins see everything.
    var everything: Bool = false
    var signedIn: Bool = false
    /// Institutions whose institution-only records the searcher may see.
    var institutions: [UUID] = []

    static let anonymous = VisibilityScope()
}

struct SearchRequest: Sendable {
    enum Sort: String, Sendable, CaseIterable { case relevance, date }

    /// What the person typed (web-search syntax: words, "phrases", OR, -exclusions).
    var text: String = ""
    /// facet → chosen values. Values of one facet are alternatives (OR); facets combine (AND).
    var filters: [String: [String]] = [:]
    var sort: Sort = .relevance
    var offset: Int = 0
    var limit: Int = 20
    var scope: VisibilityScope = .anonymous
    /// Whether to count the facets (suggestions need only the hits).
    var countsFacets = true

    var query: SearchQuery { SearchQuery(parsing: text) }
}

struct SearchHit: Sendable {
    var recordID: UUID
    var title: String
    /// HTML: the escaped text with the matched words in `<mark>`.
    var snippet: String
    var publishedAt: Date
}

struct SearchResult: Sendable {
    var total: Int
    var hits: [SearchHit]
    /// facet → (value, count), counted with every filter except the facet's own (so alternatives stay visible).
    var facets: [String: [(value: String, count: Int)]]
}

/// The repository's full-text search, one protocol over the two databases.
protocol SearchIndex: Sendable {
    func upsert(_ documents: [SearchDocument], on db: any Database) async throws
    func remove(recordIDs: [UUID], on db: any Database) async throws
    /// `other`: a second connection (of another event loop) for the facet counts, which then run beside the page.
    func search(_ request: SearchRequest, on db: any Database, besides other: (any Database)?) async throws -> SearchResult
}

enum SearchFacet {
    static let all = ["area", "type", "language", "country", "year", "licence"]
}

/// Case and diacritic folding for Latin script (č → c, ë → e, đ → d, ß → ss); other scripts are only lower-cased,
/// so Cyrillic stays Cyrillic. Used on both the indexed text and the query.
enum SearchFolding {
    private static let special: [Character: String] = [
        "đ": "d", "ð": "d", "ł": "l", "ø": "o", "ß": "ss", "æ": "ae", "œ": "oe", "ı": "i", "ħ": "h", "þ": "th",
    ]

    /// The folded form of every Latin scalar below U+0250, computed once.
    private static let latin: [String] = (0..<0x250).map { value -> String in
        guard let scalar = Unicode.Scalar(UInt32(value)) else { return "" }
        let character = Character(String(scalar).lowercased())
        if let replacement = special[character] { return replacement }
        var out = String.UnicodeScalarView()
        for part in String(character).decomposedStringWithCanonicalMapping.unicodeScalars
        where part.properties.generalCategory != .nonspacingMark {
            out.append(part)
        }
        return String(out)
    }

    static func fold(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            let value = scalar.value
            if value < 0x80 {
                // ASCII: only upper-case letters change.
                out.append(value >= 0x41 && value <= 0x5A ? Unicode.Scalar(value + 0x20)! : scalar)
            } else if value < 0x250 {
                out.append(contentsOf: latin[Int(value)].unicodeScalars)
            } else if value >= 0x0430 && value <= 0x045F {
                out.append(scalar)  // lower-case Cyrillic
            } else if value >= 0x0410 && value <= 0x042F {
                out.append(Unicode.Scalar(value + 0x20)!)
            } else if value >= 0x0400 && value <= 0x040F {
                out.append(Unicode.Scalar(value + 0x50)!)
            } else if value >= 0x300 && value <= 0x36F {
                // A combining accent of decomposed input is dropped like a precomposed one.
                continue
            } else {
                out.append(contentsOf: String(scalar).lowercased().unicodeScalars)
            }
        }
        return String(out)
    }
}

/// Builds the highlighted snippet shown under a hit, the same way for both databases.
enum Snippet {
    static let startMark = "\u{E000}", endMark = "\u{E001}"

    /// A window of about `words` words around the first match, HTML-escaped, with every matched word in `<mark>`.
    static func make(_ text: String, highlight: [String], words: Int = 32) -> String {
        let source = String(text.prefix(20_000))
        let targets = Set(highlight.map(SearchFolding.fold))
        // Words are runs of letters, combining marks and digits, read scalar by scalar (cheaper than characters);
        // tokenising stops once the window after the first hit is complete.
        func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
            if scalar.value < 0x80 {
                let v = scalar.value
                return (v >= 0x30 && v <= 0x39) || (v >= 0x41 && v <= 0x5A) || (v >= 0x61 && v <= 0x7A)
            }
            let properties = scalar.properties
            return properties.isAlphabetic || properties.numericType != nil || properties.generalCategory == .nonspacingMark
        }
        let scalars = source.unicodeScalars
        var tokens: [(range: Range<String.Index>, hit: Bool)] = []
        var firstHitIndex: Int?
        var index = scalars.startIndex
        while index < scalars.endIndex {
            if let hit = firstHitIndex, tokens.count > max(0, hit - words / 3) + words { break }
            guard isWordScalar(scalars[index]) else { index = scalars.index(after: index); continue }
            var end = index
            while end < scalars.endIndex, isWordScalar(scalars[end]) { end = scalars.index(after: end) }
            let hit = targets.contains(SearchFolding.fold(String(scalars[index..<end])))
            if hit && firstHitIndex == nil { firstHitIndex = tokens.count }
            tokens.append((index..<end, hit))
            index = end
        }
        guard !tokens.isEmpty else { return "" }
        let firstHit = tokens.firstIndex { $0.hit } ?? 0
        let from = max(0, firstHit - words / 3)
        let to = min(tokens.count, from + words)
        var html = from > 0 ? "… " : ""
        var cursor = tokens[from].range.lowerBound
        for token in tokens[from..<to] {
            html += escape(String(source[cursor..<token.range.lowerBound]))
            let word = escape(String(source[token.range]))
            html += token.hit ? "<mark>\(word)</mark>" : word
            cursor = token.range.upperBound
        }
        if to < tokens.count { html += " …" } else { html += escape(String(source[cursor...])) }
        return html
    }

    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\n", "\r", "\t": out += " "
            default: out.append(character)
            }
        }
        return out
    }
}

/// Facet counts of the whole collection per visibility scope, for a minute (one per application's index).
final class FacetCache: @unchecked Sendable {
    typealias Facets = [String: [(value: String, count: Int)]]
    private let lock = NSLock()
    private var entries: [VisibilityScope: (total: Int, facets: Facets, at: Date)] = [:]
    var lifetime: TimeInterval = 60

    func get(_ scope: VisibilityScope) -> (total: Int, facets: Facets)? {
        lock.withLock {
            guard let entry = entries[scope], Date().timeIntervalSince(entry.at) < lifetime else { return nil }
            return (entry.total, entry.facets)
        }
    }

    func put(_ scope: VisibilityScope, total: Int, _ facets: Facets) {
        lock.withLock {
            if entries.count > 1000 { entries.removeAll() }
            entries[scope] = (total, facets, Date())
        }
    }

    func clear() { lock.withLock { entries.removeAll() } }
}

/// Rows the search SQL returns.
enum SearchRows {
    struct Returned: Decodable { var doc_id: Int64; var record_id: String }
    struct DocID: Decodable { var doc_id: Int64 }
    struct Count: Decodable { var n: Int64 }
    struct Hit: Decodable { var record_id: String; var title: String; var body: String; var published_at: Double }
    struct CountedHit: Decodable {
        var record_id: String; var title: String; var body: String; var published_at: Double; var total: Int64
        var hit: Hit { Hit(record_id: record_id, title: title, body: body, published_at: published_at) }
    }
    struct Lists: Decodable { var lists: String? }
    struct Page { var total: Int; var rows: [Hit] }
}

/// Facets and visibility as words of the full-text index, so a filtered search is one index intersection:
/// "xareaxa4", "xlanguagexsrcyrl", "xvisxpublic", "xvisinstx<institution>". Plain letters and digits only, so both
/// engines keep each tag as one token.
enum SearchTags {
    static func token(_ facet: String, _ value: String) -> String {
        "x" + facet.lowercased() + "x" + value.lowercased().filter { $0.isASCII && ($0.isLetter || $0.isNumber) }
    }

    /// Visibility as tags on the restricted documents only: public documents (most of them) carry none, so the index
    /// never walks a list of every public document; a search excludes what the searcher may not see.
    static func visibility(_ visibility: RecordVisibility, institution: UUID) -> [String] {
        switch visibility {
        case .public: []
        case .network: ["xvisxnetwork"]
        case .institution: ["xvisxinstonly", institutionTag(institution)]
        }
    }

    static func institutionTag(_ institution: UUID) -> String {
        "xvisinstx" + institution.uuidString.lowercased().filter { $0 != "-" }
    }

    static func all(_ document: SearchDocument) -> String {
        (visibility(document.visibility, institution: document.institutionID) + document.facets.map { token($0.0, $0.1) })
            .joined(separator: " ")
    }

    /// What a searcher may not see: documents with one of `hidden`, unless they also carry one of `except`.
    /// nil: everything is visible (admins).
    static func exclusion(_ scope: VisibilityScope) -> (hidden: [String], except: [String])? {
        if scope.everything { return nil }
        if !scope.signedIn { return (["xvisxnetwork", "xvisxinstonly"], []) }
        return (["xvisxinstonly"], scope.institutions.map(institutionTag))
    }
}

/// Which tags a matching document carries: one of the alternatives, each a list of groups of which the document has
/// one tag each. No alternatives: no condition.
struct TagCondition: Sendable {
    var alternatives: [[[String]]]

    static let none = TagCondition(alternatives: [])
    /// One tag of every group.
    static func all(_ groups: [[String]]) -> TagCondition {
        let groups = groups.filter { !$0.isEmpty }
        return TagCondition(alternatives: groups.isEmpty ? [] : [groups])
    }

    /// The condition in a search engine's syntax: `tag` quotes one tag, then groups, alternatives and the whole
    /// are joined with the engine's OR and AND. nil when there is no condition.
    func rendered(tag: (String) -> String, or: String, and: String) -> String? {
        let rendered = alternatives.map { groups in
            groups.map { "(" + $0.map(tag).joined(separator: or) + ")" }.joined(separator: and)
        }.filter { !$0.isEmpty }
        if rendered.isEmpty { return nil }
        return rendered.count == 1 ? rendered[0] : rendered.map { "(\($0))" }.joined(separator: or)
    }
}

/// Each document's facets as one short text, read with the documents a search matches so that every facet is counted
/// in one pass: "area␟A4␞language␟sq␞…" (unit and record separators). The lists of several documents come joined
/// by the group separator (one aggregate per search).
enum FacetLists {
    static let unit: UInt8 = 0x1F, record: UInt8 = 0x1E, group: UInt8 = 0x1D

    static func encode(_ facets: [(String, String)]) -> String {
        func clean(_ text: String) -> String { text.filter { $0.unicodeScalars.allSatisfy { $0.value >= 0x20 } } }
        return Set(facets.map { clean($0.0) + "\u{1F}" + clean($0.1) }).sorted().joined(separator: "\u{1E}")
    }
}

/// Counts facet values over documents' facet lists, each facet without its own filter: a document counts for a
/// facet when it matches the filters of every other facet, so the alternatives to a chosen value keep their counts.
/// The documents given may therefore miss one filter (never more: those are skipped). Works on the UTF-8 bytes (a
/// search reads thousands of lists): pairs are compared and counted by their bytes, and become strings at the end.
struct FacetTally {
    typealias Facets = [String: [(value: String, count: Int)]]

    /// The facets with a filter (sorted) and, for each, its chosen values.
    private let filtered: [[UInt8]]
    private let chosen: [[[UInt8]]]
    /// "facet␟value" bytes and their documents; found by an FNV-1a hash of the bytes (a pair whose hash another pair
    /// took first is counted in `collided`).
    private var entries: [(pair: [UInt8], count: Int)] = []
    private var slots: [UInt64: Int] = [:]
    private var collided: [[UInt8]: Int] = [:]

    init(filters: [String: [String]]) {
        let filters = filters.filter { !$0.value.isEmpty }
        let names = filters.keys.sorted()
        filtered = names.map { Array($0.utf8) }
        chosen = names.map { name in filters[name, default: []].map { Array($0.utf8) } }
    }

    /// Adds the documents of one aggregate (lists joined by the group separator).
    mutating func add(_ lists: String) {
        var lists = lists
        lists.withUTF8 { bytes in
            let all = (1 << filtered.count) - 1
            // The pairs of the current document: where each starts, where its facet ends, where it ends.
            var pairs: [(start: Int, unit: Int, end: Int)] = []
            var start = 0, unit = -1
            func slice(_ from: Int, _ to: Int) -> UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(rebasing: bytes[from..<to]) }
            func finishDocument() {
                var matched = 0
                for pair in pairs {
                    let facet = slice(pair.start, pair.unit)
                    guard let bit = filtered.firstIndex(where: { $0.elementsEqual(facet) }) else { continue }
                    let value = slice(pair.unit + 1, pair.end)
                    if chosen[bit].contains(where: { $0.elementsEqual(value) }) { matched |= 1 << bit }
                }
                let missing = all & ~matched
                if missing == 0 {
                    for pair in pairs { count(slice(pair.start, pair.end)) }
                } else if missing.nonzeroBitCount == 1 {
                    let only = filtered[missing.trailingZeroBitCount]
                    for pair in pairs where only.elementsEqual(slice(pair.start, pair.unit)) { count(slice(pair.start, pair.end)) }
                }
                pairs.removeAll(keepingCapacity: true)
            }
            for index in 0...bytes.count {
                let byte = index < bytes.count ? bytes[index] : FacetLists.group
                switch byte {
                case FacetLists.unit:
                    unit = index
                case FacetLists.record, FacetLists.group:
                    if unit > start && unit < index { pairs.append((start, unit, index)) }
                    start = index + 1
                    unit = -1
                    if byte == FacetLists.group { finishDocument() }
                default:
                    break
                }
            }
        }
    }

    private mutating func count(_ pair: UnsafeBufferPointer<UInt8>) {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in pair { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        if let slot = slots[hash] {
            if entries[slot].pair.elementsEqual(pair) { entries[slot].count += 1 } else { collided[Array(pair), default: 0] += 1 }
        } else {
            slots[hash] = entries.count
            entries.append((Array(pair), 1))
        }
    }

    /// The counts per facet, most frequent first (then by value).
    var facets: Facets {
        var result: Facets = [:]
        for (pair, count) in entries.map({ ($0.pair, $0.count) }) + collided.map({ ($0.key, $0.value) }) {
            guard let unit = pair.firstIndex(of: FacetLists.unit) else { continue }
            let facet = String(decoding: pair[..<unit], as: UTF8.self), value = String(decoding: pair[(unit + 1)...], as: UTF8.self)
            result[facet, default: []].append((value, count))
        }
        for key in result.keys {
            result[key]?.sort { $0.count != $1.count ? $0.count > $1.count : $0.value < $1.value }
        }
        return result
    }
}

/// What a search engine returns for a set of matching documents.
struct SearchMatch {
    /// `doc_id`, `published_at` and `score` (0 unless ranked) of every match.
    var rows: SQLQueryString
    /// Whether a higher score ranks first.
    var descending: Bool
    /// One row with the facet lists of every match in one text (`lists`, NULL when nothing matches).
    var lists: SQLQueryString
}

/// What the two implementations share: batching, paging and facet counting.
/// They differ in how text, tags and facet lists are stored and matched (`writeText`, `matching`).
protocol SQLSearchIndex: SearchIndex {
    /// Writes the documents' text, tags and facet lists where the engine keeps them besides the search rows.
    func writeText(_ documents: [(docID: Int64, document: SearchDocument)], on sql: any SQLDatabase) async throws
    func deleteText(docIDs: [Int64], on sql: any SQLDatabase) async throws
    /// The documents that match the words (may be empty) and the tag condition, and that the searcher may see; nil
    /// when the words cannot match anything or there is neither a word nor a tag to match.
    func matching(_ text: String, tags: TagCondition, hidden: (hidden: [String], except: [String])?, ranked: Bool) -> SearchMatch?
    /// One row with the facet lists (`lists`) of every document the scope may see.
    func visibleLists(_ condition: SQLQueryString) -> SQLQueryString
    /// Facet counts of the whole collection, per application.
    var facetCache: FacetCache { get }
    /// Extra SET/VALUES for the search row (PostgreSQL keeps its tsvector and facet lists there).
    var extraColumns: (names: String, values: (SearchDocument) -> SQLQueryString, update: String) { get }
}

extension SearchIndex {
    func search(_ request: SearchRequest, on db: any Database) async throws -> SearchResult {
        try await search(request, on: db, besides: nil)
    }
}

extension SQLSearchIndex {
    func upsert(_ documents: [SearchDocument], on db: any Database) async throws {
        guard !documents.isEmpty else { return }
        defer { facetCache.clear() }
        for batch in stride(from: 0, to: documents.count, by: 500).map({ Array(documents[$0..<min($0 + 500, documents.count)]) }) {
            try await db.transaction { tx in
                guard let sql = tx as? any SQLDatabase else { return }
                let extra = extraColumns
                let rows: [SQLQueryString] = batch.map { document in
                    "(\(bind: document.recordID.uuidString), \(bind: document.versionID.uuidString), \(bind: document.institutionID.uuidString), \(bind: document.visibility.rawValue), \(bind: document.title), \(bind: document.body), \(bind: document.publishedAt.timeIntervalSince1970)" + extra.values(document) + ")"
                }
                let insert: SQLQueryString = """
                    INSERT INTO repository_search (record_id, version_id, institution_id, visibility, title, body, published_at\(unsafeRaw: extra.names))
                    VALUES \(rows.joined(separator: ", "))
                    ON CONFLICT (record_id) DO UPDATE SET version_id = excluded.version_id, institution_id = excluded.institution_id,
                      visibility = excluded.visibility, title = excluded.title, body = excluded.body, published_at = excluded.published_at\(unsafeRaw: extra.update)
                    RETURNING doc_id, record_id
                    """
                let returned = try await sql.raw(insert).all(decoding: SearchRows.Returned.self)
                let ids = Dictionary(returned.map { ($0.record_id, $0.doc_id) }, uniquingKeysWith: { a, _ in a })
                let pairs = batch.compactMap { document in ids[document.recordID.uuidString].map { (docID: $0, document: document) } }
                try await deleteText(docIDs: pairs.map(\.docID), on: sql)
                try await writeText(pairs, on: sql)
            }
        }
    }

    func remove(recordIDs: [UUID], on db: any Database) async throws {
        guard !recordIDs.isEmpty, let sql = db as? any SQLDatabase else { return }
        defer { facetCache.clear() }
        let docIDs = try await sql.raw("SELECT doc_id FROM repository_search WHERE record_id IN (\(binds: recordIDs.map(\.uuidString)))")
            .all(decoding: SearchRows.DocID.self).map(\.doc_id)
        guard !docIDs.isEmpty else { return }
        try await deleteText(docIDs: docIDs, on: sql)
        try await sql.raw("DELETE FROM repository_search WHERE doc_id IN (\(binds: docIDs))").run()
    }

    /// The visibility rule on the search rows themselves (for browsing in date order without words or filters).
    func visibilityCondition(_ scope: VisibilityScope) -> SQLQueryString {
        if scope.everything { return "1 = 1" }
        var condition: SQLQueryString = "(s.visibility = 'public'"
        if scope.signedIn { condition += " OR s.visibility = 'network'" }
        if !scope.institutions.isEmpty {
            condition += " OR (s.visibility = 'institution' AND s.institution_id IN (\(binds: scope.institutions.map(\.uuidString))))"
        }
        return condition + ")"
    }

    /// The total and the facet counts of everything the scope may see, kept for a minute.
    func collection(_ scope: VisibilityScope, on sql: any SQLDatabase) async throws -> (total: Int, facets: FacetTally.Facets) {
        if let cached = facetCache.get(scope) { return cached }
        let condition = visibilityCondition(scope)
        let total = try await sql.raw("SELECT COUNT(*) AS n FROM repository_search s WHERE \(condition)").first(decoding: SearchRows.Count.self)?.n ?? 0
        var tally = FacetTally(filters: [:])
        if let lists = try await sql.raw(visibleLists(condition)).first(decoding: SearchRows.Lists.self)?.lists { tally.add(lists) }
        let facets = tally.facets
        facetCache.put(scope, total: Int(total), facets)
        return (Int(total), facets)
    }

    /// A search: the page of hits and the total from one statement, and (beside it, on `other` when given, a
    /// connection of another event loop) the facet counts from the facet lists of the documents that match all
    /// filters or all but one, in one more statement.
    func search(_ request: SearchRequest, on db: any Database, besides other: (any Database)?) async throws -> SearchResult {
        guard let sql = db as? any SQLDatabase else { return SearchResult(total: 0, hits: [], facets: [:]) }
        let counting = (other as? any SQLDatabase) ?? sql
        let query = request.query
        let filters = request.filters.filter { !$0.value.isEmpty }
        let hidden = SearchTags.exclusion(request.scope)
        let filtered = filters.keys.sorted()
        func groups(except skipped: String?) -> [[String]] {
            filtered.filter { $0 != skipped }.map { facet in filters[facet, default: []].map { SearchTags.token(facet, $0) } }
        }

        if query.isEmpty && filters.isEmpty {
            // Browsing everything: newest first straight from the search rows (index on published_at); the total and
            // the facet counts of the whole collection are kept for a minute per visibility scope.
            let rows = try await sql.raw("""
                SELECT s.record_id, s.title, s.body, s.published_at FROM repository_search s WHERE \(visibilityCondition(request.scope))
                ORDER BY s.published_at DESC, s.doc_id LIMIT \(bind: request.limit) OFFSET \(bind: request.offset)
                """).all(decoding: SearchRows.Hit.self)
            let whole = try await collection(request.scope, on: counting)
            return SearchResult(total: whole.total, hits: hits(rows, query), facets: request.countsFacets ? whole.facets : [:])
        }

        let byRelevance = request.sort == .relevance && !query.isEmpty
        guard let all = matching(request.text, tags: .all(groups(except: nil)), hidden: hidden, ranked: byRelevance) else {
            return SearchResult(total: 0, hits: [], facets: [:])
        }
        async let page = self.page(all, byRelevance: byRelevance, request, on: sql)

        var facets: FacetTally.Facets = [:]
        if request.countsFacets {
            var tally = FacetTally(filters: filters)
            if query.isEmpty && filtered.count == 1 {
                // Without words, the one filtered facet counts over the whole collection (cached), the others over
                // the documents it matches.
                if let lists = try await counting.raw(all.lists).first(decoding: SearchRows.Lists.self)?.lists { tally.add(lists) }
                facets = tally.facets
                facets[filtered[0]] = try await collection(request.scope, on: counting).facets[filtered[0]]
            } else {
                // The documents that miss at most one filter: with two or more filters, those that match all filters
                // but one, in any combination; with one, every document that matches the words.
                let tags = filtered.count < 2 ? TagCondition.none : TagCondition(alternatives: filtered.map { groups(except: $0) })
                if let near = matching(request.text, tags: tags, hidden: hidden, ranked: false),
                   let lists = try await counting.raw(near.lists).first(decoding: SearchRows.Lists.self)?.lists {
                    tally.add(lists)
                }
                facets = tally.facets
            }
        }
        let found = try await page
        return SearchResult(total: found.total, hits: hits(found.rows, query), facets: facets)
    }

    /// One page of matches with their total (a window count over every match, taken before the LIMIT); the text of
    /// the page's hits is read after the LIMIT, for those rows only.
    private func page(_ match: SearchMatch, byRelevance: Bool, _ request: SearchRequest, on sql: any SQLDatabase) async throws -> SearchRows.Page {
        func order(_ table: String) -> SQLQueryString {
            let first: String = byRelevance ? "\(table).score \(match.descending ? "DESC" : "ASC"), " : ""
            return "\(unsafeRaw: first)\(unsafeRaw: table).published_at DESC, \(unsafeRaw: table).doc_id"
        }
        let counted = try await sql.raw("""
            SELECT s.record_id, s.title, s.body, s.published_at, m.total FROM (
              SELECT r.doc_id, r.published_at, r.score, COUNT(*) OVER () AS total FROM (\(match.rows)) r
              ORDER BY \(order("r")) LIMIT \(bind: request.limit) OFFSET \(bind: request.offset)) m
            JOIN repository_search s ON s.doc_id = m.doc_id
            ORDER BY \(order("m"))
            """).all(decoding: SearchRows.CountedHit.self)
        var total = counted.first?.total ?? 0
        if counted.isEmpty && request.offset > 0 {
            // Past the last page: the window saw no rows, so count on their own.
            total = try await sql.raw("SELECT COUNT(*) AS n FROM (\(match.rows)) m").first(decoding: SearchRows.Count.self)?.n ?? 0
        }
        return SearchRows.Page(total: Int(total), rows: counted.map(\.hit))
    }

    private func hits(_ rows: [SearchRows.Hit], _ query: SearchQuery) -> [SearchHit] {
        let highlight = query.highlightWords
        return rows.compactMap { row -> SearchHit? in
            guard let id = UUID(uuidString: row.record_id) else { return nil }
            return SearchHit(recordID: id, title: row.title, snippet: Snippet.make(row.body, highlight: highlight),
                             publishedAt: Date(timeIntervalSince1970: row.published_at))
        }
    }
}

/// SQLite: an FTS5 table (rowid = doc_id) over folded text and the tags, ranked by bm25 with the title weighted up,
/// and a narrow table of each document's date and facet lists (the search rows carry long text, read only for a page).
struct SQLiteSearchIndex: SQLSearchIndex {
    let facetCache = FacetCache()

    var extraColumns: (names: String, values: (SearchDocument) -> SQLQueryString, update: String) {
        ("", { _ in "" }, "")
    }

    func writeText(_ documents: [(docID: Int64, document: SearchDocument)], on sql: any SQLDatabase) async throws {
        guard !documents.isEmpty else { return }
        let rows: [SQLQueryString] = documents.map {
            "(\(bind: $0.docID), \(bind: SearchFolding.fold($0.document.title)), \(bind: SearchFolding.fold($0.document.body)), \(bind: SearchTags.all($0.document)))"
        }
        try await sql.raw("INSERT INTO repository_fts (rowid, title, body, tags) VALUES \(rows.joined(separator: ", "))").run()
        let lists: [SQLQueryString] = documents.map {
            "(\(bind: $0.docID), \(bind: $0.document.publishedAt.timeIntervalSince1970), \(bind: FacetLists.encode($0.document.facets)))"
        }
        try await sql.raw("INSERT INTO repository_search_docs (doc_id, published_at, facets) VALUES \(lists.joined(separator: ", "))").run()
    }

    func deleteText(docIDs: [Int64], on sql: any SQLDatabase) async throws {
        guard !docIDs.isEmpty else { return }
        try await sql.raw("DELETE FROM repository_fts WHERE rowid IN (\(binds: docIDs))").run()
        try await sql.raw("DELETE FROM repository_search_docs WHERE doc_id IN (\(binds: docIDs))").run()
    }

    func matching(_ text: String, tags: TagCondition, hidden: (hidden: [String], except: [String])?, ranked: Bool) -> SearchMatch? {
        var words: String?
        // Parse first (operators are capitalised OR), then fold the terms the way the indexed text was folded.
        let parsed = SearchQuery(parsing: text)
        if !parsed.isEmpty {
            func fold(_ term: SearchQuery.Term) -> SearchQuery.Term {
                switch term {
                case .word(let word): return .word(SearchFolding.fold(word))
                case .phrase(let words): return .phrase(words.map(SearchFolding.fold))
                }
            }
            let folded = SearchQuery(clauses: parsed.clauses.map { .init(alternatives: $0.alternatives.map(fold)) }, excluded: parsed.excluded.map(fold))
            guard let expression = folded.fts5Expression() else { return nil }
            words = "{title body}: (\(expression))"
        }
        func any(_ tags: [String]) -> String { "tags: (" + tags.map { "\"\($0)\"" }.joined(separator: " OR ") + ")" }
        let parts = [words, tags.rendered(tag: { "tags: \"\($0)\"" }, or: " OR ", and: " AND ")].compactMap { $0 }
        guard !parts.isEmpty else { return nil }
        var expression = parts.map { "(\($0))" }.joined(separator: " AND ")
        if let hidden, !hidden.hidden.isEmpty {
            expression = hidden.except.isEmpty
                ? "(\(expression)) NOT \(any(hidden.hidden))"
                : "(\(expression)) NOT (\(any(hidden.hidden)) NOT \(any(hidden.except)))"
        }
        let from = "FROM repository_fts f CROSS JOIN repository_search_docs d ON d.doc_id = f.rowid WHERE repository_fts MATCH"
        let rows: SQLQueryString
        if ranked, let words {
            // bm25 counts the documents of every phrase of its own query before ranking, so it ranks the words alone
            // (the tags are in a quarter of the collection each, and do not say how relevant a document is), and the
            // tags and visibility filter that through the full expression.
            rows = expression == words
                ? "SELECT f.rowid AS doc_id, d.published_at, bm25(repository_fts, 8.0, 1.0, 0.0) AS score \(unsafeRaw: from) \(bind: words)"
                : "SELECT f.rowid AS doc_id, d.published_at, bm25(repository_fts, 8.0, 1.0, 0.0) AS score \(unsafeRaw: from) \(bind: words) AND +f.rowid IN (SELECT rowid FROM repository_fts WHERE repository_fts MATCH \(bind: expression))"
        } else {
            rows = "SELECT f.rowid AS doc_id, d.published_at, 0 AS score \(unsafeRaw: from) \(bind: expression)"
        }
        return SearchMatch(rows: rows, descending: false,
                           lists: "SELECT group_concat(d.facets, char(29)) AS lists \(unsafeRaw: from) \(bind: expression)")
    }

    func visibleLists(_ condition: SQLQueryString) -> SQLQueryString {
        "SELECT group_concat(d.facets, char(29)) AS lists FROM repository_search s CROSS JOIN repository_search_docs d ON d.doc_id = s.doc_id WHERE \(condition)"
    }
}

/// PostgreSQL: a tsvector built with the `interba_fold` configuration (simple + unaccent) over title (weight A), body
/// (B) and the tags (D), a GIN index, `websearch_to_tsquery` for the words and `ts_rank` for ranking; the facet lists
/// are a column of the search row, read in the same heap visit that returns a match.
struct PostgresSearchIndex: SQLSearchIndex {
    let facetCache = FacetCache()

    var extraColumns: (names: String, values: (SearchDocument) -> SQLQueryString, update: String) {
        (", document, facets",
         { document in
             ", setweight(to_tsvector('interba_fold', \(bind: document.title)), 'A') || setweight(to_tsvector('interba_fold', \(bind: String(document.body.prefix(400_000)))), 'B') || setweight(to_tsvector('simple', \(bind: SearchTags.all(document))), 'D'), \(bind: FacetLists.encode(document.facets))"
         },
         ", document = excluded.document, facets = excluded.facets")
    }

    func writeText(_ documents: [(docID: Int64, document: SearchDocument)], on sql: any SQLDatabase) async throws {}
    func deleteText(docIDs: [Int64], on sql: any SQLDatabase) async throws {}

    func matching(_ text: String, tags: TagCondition, hidden: (hidden: [String], except: [String])?, ranked: Bool) -> SearchMatch? {
        var queries: [SQLQueryString] = []
        let parsed = SearchQuery(parsing: text)
        var words: SQLQueryString?
        if !parsed.isEmpty {
            let websearch = parsed.websearchText()
            guard !websearch.isEmpty else { return nil }
            words = "websearch_to_tsquery('interba_fold', \(bind: websearch))"
            queries.append(words!)
        }
        if let condition = tags.rendered(tag: { $0 }, or: " | ", and: " & ") {
            queries.append("to_tsquery('simple', \(bind: condition))")
        }
        guard !queries.isEmpty else { return nil }
        if let hidden, !hidden.hidden.isEmpty {
            let tags = hidden.hidden.joined(separator: " | ")
            let text = hidden.except.isEmpty ? "!(\(tags))" : "!((\(tags)) & !(\(hidden.except.joined(separator: " | "))))"
            queries.append("to_tsquery('simple', \(bind: text))")
        }
        let condition = "(" + queries.joined(separator: " && ") + ")"
        let rank: SQLQueryString = ranked ? (words.map { "ts_rank(s.document, \($0))" } ?? "0") : "0"
        return SearchMatch(rows: "SELECT s.doc_id, s.published_at, \(rank) AS score FROM repository_search s WHERE s.document @@ \(condition)",
                           descending: true,
                           lists: "SELECT string_agg(s.facets, chr(29)) AS lists FROM repository_search s WHERE s.document @@ \(condition)")
    }

    func visibleLists(_ condition: SQLQueryString) -> SQLQueryString {
        "SELECT string_agg(s.facets, chr(29)) AS lists FROM repository_search s WHERE \(condition)"
    }
}

struct SearchIndexKey: StorageKey { typealias Value = any SearchIndex }

extension Application {
    /// A database of another event loop's connection pool, for queries that can run beside those on `loop`'s
    /// (nil when there is only one event loop).
    func database(besides loop: any EventLoop, logger: Logger) -> (any Database)? {
        for other in eventLoopGroup.makeIterator() where other !== loop {
            return databases.database(logger: logger, on: other)
        }
        return nil
    }

    /// The index that fits the configured database.
    var searchIndex: any SearchIndex {
        if let index = storage[SearchIndexKey.self] { return index }
        let index: any SearchIndex = (db as? any SQLDatabase)?.dialect.name == "postgresql" ? PostgresSearchIndex() : SQLiteSearchIndex()
        storage[SearchIndexKey.self] = index
        return index
    }
}

extension Request {
    /// A database for queries that can run beside this request's own (see `Application.database(besides:logger:)`).
    var besideDatabase: (any Database)? { application.database(besides: eventLoop, logger: logger) }
}
