import Foundation

/// A web-search query as people type it — plain words (AND implied), "quoted phrases", `OR` between terms,
/// `-word` and `-"phrase"` to exclude — parsed into a small, always-valid tree.
///
/// Parsing never fails: an unclosed quote takes the rest of the input as its phrase; an `OR` with no
/// positive term on both sides (at the start, at the end, doubled, or next to an exclusion) is dropped; the
/// word `AND` is dropped (AND is implied); a lone `-` is dropped. `OR` and `AND` are operators only when
/// typed in capitals and unquoted: a lower-case `or` or `and` is an ordinary word.
///
/// Words are split on every character that is neither a letter nor a digit (Unicode-aware, so `učenje`,
/// `ë`, `ç` and `развој` are single words) and lower-cased; diacritics are kept, the search engines fold
/// them. A run of words joined inside one typed word by `-`, `'`, `.`, `/`, `_`, `@`, `&`, `+` or `:`
/// (`e-learning`, `don't`, `4.0`) becomes a phrase of its parts, which is how SQLite FTS5 indexes such words;
/// PostgreSQL's parser keeps some of them whole (`4.0`, `u.s.a`, `www.example.com`), so the PostgreSQL outputs
/// pass those on as typed (see `typedForms`). A quoted single word is a one-word phrase: never prefix-matched.
///
/// The input is capped at 256 characters (and 1,024 Unicode scalars) and the query at 16 terms (positive and
/// excluded together).
struct SearchQuery: Equatable, Sendable {
    enum Term: Equatable, Sendable {
        case word(String)
        case phrase([String])

        var words: [String] {
            switch self {
            case .word(let word): return [word]
            case .phrase(let words): return words
            }
        }
    }

    /// Terms joined by OR; the clauses of a query are joined by AND.
    struct Clause: Equatable, Sendable {
        var alternatives: [Term]
    }

    static let maxInputCharacters = 256
    static let maxTerms = 16

    var clauses: [Clause]
    var excluded: [Term]

    /// The text as typed (lower-cased, trimmed to its words) of phrases that came from one typed word joined by
    /// characters other than plain hyphens — `4.0`, `u.s.a`, `www.example.com`, `covid-19` — keyed by their
    /// words. PostgreSQL's parser keeps such text as one lexeme (or splits it its own way), so the PostgreSQL
    /// outputs hand it over as typed. Not part of equality.
    private var typedForms: [[String]: String] = [:]

    static func == (lhs: SearchQuery, rhs: SearchQuery) -> Bool {
        lhs.clauses == rhs.clauses && lhs.excluded == rhs.excluded
    }

    /// True when the query has no positive clause (it may still have exclusions, which alone match nothing useful).
    var isEmpty: Bool { clauses.isEmpty }

    init(clauses: [Clause] = [], excluded: [Term] = []) {
        self.clauses = clauses
        self.excluded = excluded
    }

    init(parsing text: String) {
        var clauses: [Clause] = []
        var excluded: [Term] = []
        var typedForms: [[String]: String] = [:]
        var termCount = 0
        var orPending = false          // an OR follows a positive term and waits for the next one
        var lastWasPositive = false    // the previous item was a positive term

        // Characters, and scalars too: one character can carry any number of combining marks.
        let scalars = String(String.UnicodeScalarView(text.unicodeScalars.prefix(Self.maxInputCharacters * 4)))
        for item in Self.lex(String(scalars.prefix(Self.maxInputCharacters))) {
            switch item {
            case .and:
                continue               // transparent: `a AND b` is `a b`, `a OR AND b` is `a OR b`
            case .or:
                orPending = lastWasPositive
            case .term(let term, let negated, let typed):
                guard termCount < Self.maxTerms else { continue }
                termCount += 1
                if let typed, case .phrase(let words) = term { typedForms[words] = typed }
                if negated {
                    if !excluded.contains(term) { excluded.append(term) }
                    orPending = false
                    lastWasPositive = false
                } else {
                    if orPending, !clauses.isEmpty {
                        if !clauses[clauses.count - 1].alternatives.contains(term) {
                            clauses[clauses.count - 1].alternatives.append(term)
                        }
                    } else {
                        clauses.append(Clause(alternatives: [term]))
                    }
                    orPending = false
                    lastWasPositive = true
                }
            }
        }
        // Drop repeated clauses (`a a`, `a OR b b OR a`).
        var unique: [Clause] = []
        for clause in clauses where !unique.contains(where: { Self.sameAlternatives($0, clause) }) {
            unique.append(clause)
        }
        self.clauses = unique
        self.excluded = excluded
        self.typedForms = typedForms
    }

    /// The same query with `transform` (e.g. accent folding) applied to every word; words that become empty are
    /// dropped, and terms, clauses and exclusions left with no words go too. Parse first, then fold: folding the
    /// raw text would lower-case `OR` into a plain word.
    func mappingWords(_ transform: (String) -> String) -> SearchQuery {
        var typedForms: [[String]: String] = [:]
        func map(_ term: Term) -> Term? {
            let words = term.words.map(transform).filter { !$0.isEmpty }
            guard !words.isEmpty else { return nil }
            switch term {
            case .word: return words.count == 1 ? .word(words[0]) : .phrase(words)
            case .phrase(let original):
                if words.count == original.count, let typed = self.typedForms[original] {
                    typedForms[words] = transform(typed)
                }
                return .phrase(words)
            }
        }
        let clauses = clauses.compactMap { clause -> Clause? in
            let alternatives = clause.alternatives.compactMap(map)
            return alternatives.isEmpty ? nil : Clause(alternatives: alternatives)
        }
        var query = SearchQuery(clauses: clauses, excluded: excluded.compactMap(map))
        query.typedForms = typedForms
        return query
    }

    // MARK: - Output

    /// An SQLite FTS5 MATCH expression, or nil when the query is empty.
    ///
    /// Every token is double-quoted (FTS5 operators and column filters can never be injected); words are
    /// prefix queries (`"razv"*`) only when `prefix` is true, phrases (`"e learning"`) and exclusions are
    /// always exact. OR groups are parenthesised, clauses are joined by AND, and exclusions follow as
    /// `NOT …` (FTS5 cannot start an expression with NOT).
    func fts5Expression(prefix: Bool = false) -> String? {
        guard !isEmpty else { return nil }
        func term(_ term: Term, prefix: Bool) -> String {
            switch term {
            case .word(let word): return Self.fts5Quote(word) + (prefix ? "*" : "")
            case .phrase(let words): return Self.fts5Quote(words.joined(separator: " "))
            }
        }
        let parts = clauses.map { clause -> String in
            let alternatives = clause.alternatives.map { term($0, prefix: prefix) }
            return alternatives.count == 1 ? alternatives[0] : "(" + alternatives.joined(separator: " OR ") + ")"
        }
        var expression = parts.joined(separator: " AND ")
        if !excluded.isEmpty {
            if parts.count > 1 { expression = "(" + expression + ")" }
            for term in excluded {
                expression += " NOT " + Self.fts5Quote(term.words.joined(separator: " "))
            }
        }
        return expression
    }

    /// Text to hand to PostgreSQL's `websearch_to_tsquery('simple', …)`, rebuilt from the parsed tree, or ""
    /// when the query is empty.
    ///
    /// websearch_to_tsquery binds AND tighter than OR and has no parentheses, so a query with OR groups is
    /// written out as an OR of AND-ed alternatives, each carrying every exclusion: `a (b OR c) -d` becomes
    /// `a b -d OR a c -d`. Phrases are quoted; so are words that PostgreSQL could read as the operator `or`;
    /// a phrase typed as one joined word (`"4.0"`, `"covid-19"`) is given as typed, so PostgreSQL's parser splits
    /// it exactly as it split the same text in the documents (plain hyphenated words go as their parts,
    /// `"e learning"`, which also matches `e learning`). The rewriting is bounded: at most 16 terms.
    func websearchText() -> String {
        guard !isEmpty else { return "" }
        func render(_ term: Term) -> String {
            switch term {
            // PostgreSQL reads `or` as OR even with a combining mark after it (`oŕ`); quoting any word that
            // starts with `or` is harmless (a quoted word is the same lexeme).
            case .word(let word):
                return word.unicodeScalars.starts(with: "or".unicodeScalars) ? "\"" + word + "\"" : word
            case .phrase(let words): return "\"" + (typedForms[words] ?? words.joined(separator: " ")) + "\""
            }
        }
        let exclusions = excluded.map { "-" + render($0) }
        return Self.disjunctiveForm(clauses)
            .map { ($0.map(render) + exclusions).joined(separator: " ") }
            .joined(separator: " OR ")
    }

    /// A `to_tsquery('simple', …)` expression with explicit operators and parentheses, or nil when the query
    /// is empty: `'a' & ('b' | 'c') & !('d' <-> 'e')`; words get `:*` (prefix match) only when `prefix` is true.
    func postgresTSQuery(prefix: Bool = false) -> String? {
        guard !isEmpty else { return nil }
        func lexeme(_ word: String) -> String {
            "'" + word.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "''") + "'"
        }
        func render(_ term: Term, prefix: Bool) -> String {
            switch term {
            case .word(let word): return lexeme(word) + (prefix ? ":*" : "")
            case .phrase(let words):
                if let typed = typedForms[words] { return lexeme(typed) }
                let inner = words.map(lexeme).joined(separator: " <-> ")
                return words.count > 1 ? "(" + inner + ")" : inner
            }
        }
        var parts = clauses.map { clause -> String in
            let alternatives = clause.alternatives.map { render($0, prefix: prefix) }
            return alternatives.count == 1 ? alternatives[0] : "(" + alternatives.joined(separator: " | ") + ")"
        }
        parts += excluded.map { "!" + render($0, prefix: false) }
        return parts.joined(separator: " & ")
    }

    /// The lower-cased words of the positive terms, each once, in query order: for highlighting snippets.
    var highlightWords: [String] {
        var seen = Set<String>()
        var words: [String] = []
        for clause in clauses {
            for term in clause.alternatives {
                for word in term.words where seen.insert(word).inserted {
                    words.append(word)
                }
            }
        }
        return words
    }

    // MARK: - Lexing

    private enum Item {
        case term(Term, negated: Bool, typed: String? = nil)
        case or
        case and
    }

    private static let quoteMarks: Set<Character> = ["\"", "\u{201C}", "\u{201D}", "\u{201E}", "\u{00AB}", "\u{00BB}"]
    private static let minusSigns: Set<Character> = ["-", "\u{2212}"]
    /// Characters that join the parts of one typed word into a phrase (`e-learning`, `don't`, `u.s.a`).
    private static let joiners: Set<Character> = ["-", "\u{2010}", "\u{2011}", "\u{2012}", "\u{2013}", "'", "\u{2019}",
                                                  "\u{02BC}", ".", "/", "_", "@", "&", "+", ":", "\u{00B7}"]

    private static func isWordCharacter(_ character: Character) -> Bool {
        character.isLetter || character.isNumber
    }

    private static func lex(_ text: String) -> [Item] {
        let characters = Array(text)
        let count = characters.count
        var items: [Item] = []
        var index = 0
        while index < count {
            if characters[index].isWhitespace {
                index += 1
                continue
            }
            var negated = false
            if minusSigns.contains(characters[index]) {
                var next = index
                while next < count, minusSigns.contains(characters[next]) { next += 1 }
                index = next
                // A lone (or trailing) minus excludes nothing.
                guard next < count, !characters[next].isWhitespace else { continue }
                negated = true
            }
            if quoteMarks.contains(characters[index]) {
                var end = index + 1
                while end < count, !quoteMarks.contains(characters[end]) { end += 1 }
                let words = tokens(characters[(index + 1) ..< end])
                index = min(end + 1, count)
                if !words.isEmpty {
                    items.append(.term(.phrase(words), negated: negated))
                }
                continue
            }
            var end = index
            while end < count, !characters[end].isWhitespace, !quoteMarks.contains(characters[end]) { end += 1 }
            let chunk = characters[index ..< end]
            index = end
            if !negated, chunk.elementsEqual("OR") {
                items.append(.or)
                continue
            }
            if !negated, chunk.elementsEqual("AND") {
                items.append(.and)
                continue
            }
            for group in groups(chunk) {
                let term: Term = group.words.count == 1 ? .word(group.words[0]) : .phrase(group.words)
                items.append(.term(term, negated: negated, typed: group.words.count == 1 ? nil : group.typed))
            }
        }
        return items
    }

    /// The lower-cased words of a stretch of characters, split on everything that is not a letter or digit.
    private static func tokens(_ characters: ArraySlice<Character>) -> [String] {
        var words: [String] = []
        var current = ""
        for character in characters {
            if isWordCharacter(character) {
                current.append(character)
            } else if !current.isEmpty {
                words.append(current.lowercased())
                current = ""
            }
        }
        if !current.isEmpty { words.append(current.lowercased()) }
        return words
    }

    /// The words of one unquoted typed word, grouped: words separated only by joiners form one group. A
    /// group's `typed` form is its text from first to last word character, lower-cased, unless the group is
    /// letters joined by plain hyphens only (`e-learning`), which PostgreSQL indexes by its parts as well.
    private static func groups(_ characters: ArraySlice<Character>) -> [(words: [String], typed: String?)] {
        var groups: [(words: [String], typed: String?)] = []
        var words: [String] = []
        var typed = ""
        var lettersAndHyphensOnly = true
        var current = ""
        var separator = ""              // the non-word characters since the last word
        func flush() {
            if !words.isEmpty {
                groups.append((words, lettersAndHyphensOnly ? nil : typed.lowercased()))
            }
            words = []
            typed = ""
            lettersAndHyphensOnly = true
        }
        for character in characters {
            if isWordCharacter(character) {
                if current.isEmpty, !words.isEmpty {
                    if separator.allSatisfy({ joiners.contains($0) }) {
                        typed += separator
                        if separator != "-" { lettersAndHyphensOnly = false }
                    } else {
                        flush()
                    }
                }
                current.append(character)
                if !character.isLetter { lettersAndHyphensOnly = false }
                separator = ""
            } else {
                if !current.isEmpty {
                    words.append(current.lowercased())
                    typed += current
                    current = ""
                }
                separator.append(character)
            }
        }
        if !current.isEmpty {
            words.append(current.lowercased())
            typed += current
        }
        flush()
        return groups
    }

    // MARK: - Helpers

    private static func fts5Quote(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    private static func sameAlternatives(_ a: Clause, _ b: Clause) -> Bool {
        a.alternatives.count == b.alternatives.count && a.alternatives.allSatisfy { b.alternatives.contains($0) }
    }

    /// Every way of picking one alternative from each clause (the clauses' product), in query order.
    private static func disjunctiveForm(_ clauses: [Clause]) -> [[Term]] {
        var conjunctions: [[Term]] = [[]]
        for clause in clauses {
            conjunctions = conjunctions.flatMap { prefix in clause.alternatives.map { prefix + [$0] } }
        }
        return conjunctions
    }
}
