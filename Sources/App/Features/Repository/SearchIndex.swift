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
    func search(_ request: SearchRequest, on db: any Database) async throws -> SearchResult
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
    struct Facet: Decodable { var facet: String; var value: String; var n: Int64 }
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

/// What the two implementations share: batching, the facet table, paging and facet counting.
/// They differ in how text and tags are stored and matched (`writeText`, `matching`).
protocol SQLSearchIndex: SearchIndex {
    /// The documents' text and tags as stored, and the SQL that writes them.
    func writeText(_ documents: [(docID: Int64, document: SearchDocument)], on sql: any SQLDatabase) async throws
    func deleteText(docIDs: [Int64], on sql: any SQLDatabase) async throws
    /// The documents that match the words (may be empty) and contain one tag of every group, as a query returning
    /// `doc_id` (and `score` when ranked); nil when the words cannot match anything.
    func matching(_ text: String, tagGroups: [[String]], hidden: (hidden: [String], except: [String])?) -> (ids: SQLQueryString, ranked: SQLQueryString, descending: Bool)?
    /// Facet counts of the whole collection, per application.
    var facetCache: FacetCache { get }
    /// Extra SET/VALUES for the search row (PostgreSQL keeps its tsvector there).
    var extraColumns: (names: String, values: (SearchDocument) -> SQLQueryString, update: String) { get }
    /// The join from matching documents to their facet rows (`CROSS JOIN` makes SQLite loop over the matches).
    var facetJoin: String { get }
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
                let docIDs = pairs.map(\.docID)
                try await sql.raw("DELETE FROM repository_facets WHERE doc_id IN (\(binds: docIDs))").run()
                try await deleteText(docIDs: docIDs, on: sql)
                try await writeText(pairs, on: sql)
                let facetRows: [SQLQueryString] = pairs.flatMap { pair in
                    Set(pair.document.facets.map { "\($0.0)\u{1F}\($0.1)" }).sorted().map { joined -> SQLQueryString in
                        let parts = joined.split(separator: "\u{1F}", maxSplits: 1).map(String.init)
                        return "(\(bind: pair.docID), \(bind: parts[0]), \(bind: parts.count > 1 ? parts[1] : ""))"
                    }
                }
                for chunk in stride(from: 0, to: facetRows.count, by: 2000) {
                    let slice = Array(facetRows[chunk..<min(chunk + 2000, facetRows.count)])
                    try await sql.raw("INSERT INTO repository_facets (doc_id, facet, value) VALUES \(slice.joined(separator: ", "))").run()
                }
            }
        }
    }

    func remove(recordIDs: [UUID], on db: any Database) async throws {
        guard !recordIDs.isEmpty, let sql = db as? any SQLDatabase else { return }
        defer { facetCache.clear() }
        let docIDs = try await sql.raw("SELECT doc_id FROM repository_search WHERE record_id IN (\(binds: recordIDs.map(\.uuidString)))")
            .all(decoding: SearchRows.DocID.self).map(\.doc_id)
        guard !docIDs.isEmpty else { return }
        try await sql.raw("DELETE FROM repository_facets WHERE doc_id IN (\(binds: docIDs))").run()
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

    func search(_ request: SearchRequest, on db: any Database) async throws -> SearchResult {
        guard let sql = db as? any SQLDatabase else { return SearchResult(total: 0, hits: [], facets: [:]) }
        let query = request.query
        let filters = request.filters.filter { !$0.value.isEmpty }
        let hidden = SearchTags.exclusion(request.scope)
        func groups(except skipped: String?) -> [[String]] {
            var result: [[String]] = []
            for (facet, values) in filters.sorted(by: { $0.key < $1.key }) where facet != skipped {
                result.append(values.map { SearchTags.token(facet, $0) })
            }
            return result
        }
        let browsing = query.isEmpty && filters.isEmpty
        let page: SearchRows.Page
        var facets: [String: [(value: String, count: Int)]] = [:]
        // The set of matching documents, as SQL returning doc_id, for counting facets (with or without one facet's filter).
        var idsFor: (String?) -> SQLQueryString?
        if browsing {
            // Browsing everything: newest first straight from the search rows (index on published_at); the total and the
            // facet counts of the whole collection are kept for a minute per visibility scope.
            let rows = try await sql.raw("""
                SELECT s.record_id, s.title, s.body, s.published_at FROM repository_search s WHERE \(visibilityCondition(request.scope))
                ORDER BY s.published_at DESC, s.doc_id LIMIT \(bind: request.limit) OFFSET \(bind: request.offset)
                """).all(decoding: SearchRows.Hit.self)
            if let cached = facetCache.get(request.scope) {
                page = SearchRows.Page(total: cached.total, rows: rows)
                facets = cached.facets
                idsFor = { _ in nil }
            } else {
                let total = try await sql.raw("SELECT COUNT(*) AS n FROM repository_search s WHERE \(visibilityCondition(request.scope))")
                    .first(decoding: SearchRows.Count.self)?.n ?? 0
                page = SearchRows.Page(total: Int(total), rows: rows)
                let condition = visibilityCondition(request.scope)
                idsFor = { _ in "SELECT s.doc_id FROM repository_search s WHERE \(condition)" }
            }
        } else {
            guard let all = matching(request.text, tagGroups: groups(except: nil), hidden: hidden) else { return SearchResult(total: 0, hits: [], facets: [:]) }
            let byRelevance = request.sort == .relevance && !query.isEmpty
            let order: SQLQueryString = byRelevance ? (all.descending ? "m.score DESC" : "m.score ASC") : "s.published_at DESC"
            // The page and the total in one statement (the window counts every match before the LIMIT).
            let counted = try await sql.raw("""
                SELECT s.record_id, s.title, s.body, s.published_at, COUNT(*) OVER () AS total FROM (\(byRelevance ? all.ranked : all.ids)) m
                JOIN repository_search s ON s.doc_id = m.doc_id
                ORDER BY \(order), s.published_at DESC, s.doc_id LIMIT \(bind: request.limit) OFFSET \(bind: request.offset)
                """).all(decoding: SearchRows.CountedHit.self)
            var total = counted.first?.total ?? 0
            if counted.isEmpty && request.offset > 0 {
                // Past the last page: the window saw no rows, so count on their own.
                total = try await sql.raw("SELECT COUNT(*) AS n FROM (\(all.ids)) m").first(decoding: SearchRows.Count.self)?.n ?? 0
            }
            page = SearchRows.Page(total: Int(total), rows: counted.map(\.hit))
            let text = request.text
            let visible = visibilityCondition(request.scope)
            let noWords = query.isEmpty
            idsFor = { skipped in
                // Without its own filter a facet may have nothing left to match: then it counts over all visible documents.
                let remaining = groups(except: skipped)
                if noWords && remaining.isEmpty { return "SELECT s.doc_id FROM repository_search s WHERE \(visible)" }
                return matching(text, tagGroups: remaining, hidden: hidden)?.ids
            }
        }

        let highlight = query.highlightWords
        let hits = page.rows.compactMap { row -> SearchHit? in
            guard let id = UUID(uuidString: row.record_id) else { return nil }
            return SearchHit(recordID: id, title: row.title, snippet: Snippet.make(row.body, highlight: highlight),
                             publishedAt: Date(timeIntervalSince1970: row.published_at))
        }

        // Facet counts: one query for the facets without a filter, one per filtered facet (counted without its own
        // filter, so its alternatives stay visible).
        func count(_ ids: SQLQueryString, only facet: String?) async throws {
            var facetClause: SQLQueryString = ""
            if let facet { facetClause = " AND f.facet = \(bind: facet)" }
            else if !filters.isEmpty { facetClause = " AND f.facet NOT IN (\(binds: Array(filters.keys)))" }
            // From the matching documents to their facet rows (by the doc_id index): SQLite's planner would otherwise
            // walk every row of the facet from the (facet, value) index and test each against the matches, which
            // costs four times as much for a word and a filter (CROSS JOIN fixes the order of the loops in SQLite).
            let rows = try await sql.raw("""
                SELECT f.facet, f.value, COUNT(*) AS n FROM (\(ids)) m \(unsafeRaw: facetJoin) repository_facets f ON f.doc_id = m.doc_id
                WHERE 1 = 1\(facetClause)
                GROUP BY f.facet, f.value
                """).all(decoding: SearchRows.Facet.self)
            for row in rows { facets[row.facet, default: []].append((row.value, Int(row.n))) }
        }
        if let ids = idsFor(nil) {
            try await count(ids, only: nil)
            for facet in filters.keys.sorted() {
                if let ids = idsFor(facet) { try await count(ids, only: facet) }
            }
            for key in facets.keys {
                facets[key]?.sort { $0.count != $1.count ? $0.count > $1.count : $0.value < $1.value }
            }
            if browsing { facetCache.put(request.scope, total: page.total, facets) }
        }
        return SearchResult(total: page.total, hits: hits, facets: facets)
    }
}

/// SQLite: an FTS5 table (rowid = doc_id) over folded text and the tags, ranked by bm25 with the title weighted up.
struct SQLiteSearchIndex: SQLSearchIndex {
    let facetCache = FacetCache()
    var facetJoin: String { "CROSS JOIN" }

    var extraColumns: (names: String, values: (SearchDocument) -> SQLQueryString, update: String) {
        ("", { _ in "" }, "")
    }

    func writeText(_ documents: [(docID: Int64, document: SearchDocument)], on sql: any SQLDatabase) async throws {
        let rows: [SQLQueryString] = documents.map {
            "(\(bind: $0.docID), \(bind: SearchFolding.fold($0.document.title)), \(bind: SearchFolding.fold($0.document.body)), \(bind: SearchTags.all($0.document)))"
        }
        guard !rows.isEmpty else { return }
        try await sql.raw("INSERT INTO repository_fts (rowid, title, body, tags) VALUES \(rows.joined(separator: ", "))").run()
    }

    func deleteText(docIDs: [Int64], on sql: any SQLDatabase) async throws {
        guard !docIDs.isEmpty else { return }
        try await sql.raw("DELETE FROM repository_fts WHERE rowid IN (\(binds: docIDs))").run()
    }

    func matching(_ text: String, tagGroups: [[String]], hidden: (hidden: [String], except: [String])?) -> (ids: SQLQueryString, ranked: SQLQueryString, descending: Bool)? {
        var parts: [String] = []
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
            parts.append("{title body}: (\(expression))")
        }
        func any(_ tags: [String]) -> String { "tags: (" + tags.map { "\"\($0)\"" }.joined(separator: " OR ") + ")" }
        for group in tagGroups where !group.isEmpty { parts.append(any(group)) }
        guard !parts.isEmpty else { return nil }
        var expression = parts.map { "(\($0))" }.joined(separator: " AND ")
        if let hidden, !hidden.hidden.isEmpty {
            expression = hidden.except.isEmpty
                ? "(\(expression)) NOT \(any(hidden.hidden))"
                : "(\(expression)) NOT (\(any(hidden.hidden)) NOT \(any(hidden.except)))"
        }
        return ("SELECT rowid AS doc_id FROM repository_fts WHERE repository_fts MATCH \(bind: expression)",
                "SELECT rowid AS doc_id, bm25(repository_fts, 8.0, 1.0, 0.0) AS score FROM repository_fts WHERE repository_fts MATCH \(bind: expression)",
                false)
    }
}

/// PostgreSQL: a tsvector built with the `interba_fold` configuration (simple + unaccent) over title (weight A), body
/// (B) and the tags (D), a GIN index, `websearch_to_tsquery` for the words and `ts_rank` for ranking.
struct PostgresSearchIndex: SQLSearchIndex {
    let facetCache = FacetCache()
    var facetJoin: String { "JOIN" }

    var extraColumns: (names: String, values: (SearchDocument) -> SQLQueryString, update: String) {
        (", document",
         { document in
             ", setweight(to_tsvector('interba_fold', \(bind: document.title)), 'A') || setweight(to_tsvector('interba_fold', \(bind: String(document.body.prefix(400_000)))), 'B') || setweight(to_tsvector('simple', \(bind: SearchTags.all(document))), 'D')"
         },
         ", document = excluded.document")
    }

    func writeText(_ documents: [(docID: Int64, document: SearchDocument)], on sql: any SQLDatabase) async throws {}
    func deleteText(docIDs: [Int64], on sql: any SQLDatabase) async throws {}

    func matching(_ text: String, tagGroups: [[String]], hidden: (hidden: [String], except: [String])?) -> (ids: SQLQueryString, ranked: SQLQueryString, descending: Bool)? {
        var queries: [SQLQueryString] = []
        let parsed = SearchQuery(parsing: text)
        var words: SQLQueryString?
        if !parsed.isEmpty {
            let websearch = parsed.websearchText()
            guard !websearch.isEmpty else { return nil }
            words = "websearch_to_tsquery('interba_fold', \(bind: websearch))"
            queries.append(words!)
        }
        for group in tagGroups where !group.isEmpty {
            queries.append("to_tsquery('simple', \(bind: group.joined(separator: " | ")))")
        }
        guard !queries.isEmpty else { return nil }
        if let hidden, !hidden.hidden.isEmpty {
            let tags = hidden.hidden.joined(separator: " | ")
            let text = hidden.except.isEmpty ? "!(\(tags))" : "!((\(tags)) & !(\(hidden.except.joined(separator: " | "))))"
            queries.append("to_tsquery('simple', \(bind: text))")
        }
        let condition = "(" + queries.joined(separator: " && ") + ")"
        let rank: SQLQueryString = words.map { "ts_rank(s.document, \($0))" } ?? "0"
        return ("SELECT s.doc_id FROM repository_search s WHERE s.document @@ \(condition)",
                "SELECT s.doc_id, \(rank) AS score FROM repository_search s WHERE s.document @@ \(condition)", true)
    }
}

struct SearchIndexKey: StorageKey { typealias Value = any SearchIndex }

extension Application {
    /// The index that fits the configured database.
    var searchIndex: any SearchIndex {
        if let index = storage[SearchIndexKey.self] { return index }
        let index: any SearchIndex = (db as? any SQLDatabase)?.dialect.name == "postgresql" ? PostgresSearchIndex() : SQLiteSearchIndex()
        storage[SearchIndexKey.self] = index
        return index
    }
}
