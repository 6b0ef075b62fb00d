import Foundation

/// Reading and checking a respondent's answers: pure functions over the instrument definition.
enum Responding {
    /// Form fields of a questionnaire page, by name prefix:
    /// `i:<item>` importance, `p:<item>` performance, `v:<item>` a single value,
    /// `m:<item>` one multiple-choice code (repeated), `r:<item>:<option>` the rank given to an option.
    static func answers(from pairs: [(String, String)], items: [InstrumentDefinition.Item]) throws -> [String: AnswerValue] {
        let known = Dictionary(uniqueKeysWithValues: items.map { ($0.code, $0) })
        var values: [String: AnswerValue] = [:]
        var multiple: [String: [String]] = [:]
        var ranks: [String: [(String, String)]] = [:]
        for (name, rawValue) in pairs {
            let value = rawValue.trimmingCharacters(in: .whitespacesAndNewlines)
            let parts = name.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            guard parts.count >= 2, ["i", "p", "v", "m", "r"].contains(parts[0]) else { continue }
            let code = parts[1]
            guard known[code] != nil else { throw UnexpectedItem(code: code) }
            var answer = values[code] ?? AnswerValue()
            switch parts[0] {
            case "i": answer.importance = value.isEmpty ? nil : Int(value) ?? -1
            case "p": answer.performance = value.isEmpty ? nil : Int(value) ?? -1
            case "v":
                switch known[code]!.kind {
                case .likert: answer.number = value.isEmpty ? nil : Double(value) ?? .nan
                case .number: answer.number = value.isEmpty ? nil : Double(value.replacingOccurrences(of: ",", with: ".")) ?? .nan
                default: answer.text = value.isEmpty ? nil : value
                }
            case "m": if !value.isEmpty { multiple[code, default: []].append(value) }
            case "r": if parts.count == 3 { ranks[code, default: []].append((parts[2], value)) }
            default: break
            }
            values[code] = answer
        }
        for (code, chosen) in multiple { values[code, default: AnswerValue()].text = chosen.joined(separator: "|") }
        for (code, given) in ranks {
            let filled = given.filter { !$0.1.isEmpty }
            guard !filled.isEmpty else { continue }
            // Order the options by the rank typed next to each; invalid ranks are caught by `problems`.
            let ordered = filled.sorted { (Int($0.1) ?? 99) < (Int($1.1) ?? 99) }
            let valid = Set(filled.compactMap { Int($0.1) }) == Set(1...given.count) && filled.count == given.count
            values[code, default: AnswerValue()].text = valid ? ordered.map(\.0).joined(separator: "|") : "!invalid"
        }
        return values.filter { !$0.value.isEmpty }
    }

    struct UnexpectedItem: Error, Equatable {
        var code: String
    }

    /// Catalog keys of the problems with each item's answer: item code → key.
    static func problems(_ answers: [String: AnswerValue], items: [InstrumentDefinition.Item], requireAll: Bool) -> [String: String] {
        var problems: [String: String] = [:]
        for item in items {
            let answer = answers[item.code]
            if answer == nil || answer!.isEmpty {
                if item.required && requireAll { problems[item.code] = item.kind == .importancePerformance ? "respond.error.both" : "respond.error.required" }
                continue
            }
            let a = answer!
            switch item.kind {
            case .importancePerformance:
                if a.importance == nil || a.performance == nil { problems[item.code] = "respond.error.both" }
                else if !(1...5).contains(a.importance!) || !(1...5).contains(a.performance!) { problems[item.code] = "respond.error.range" }
            case .likert:
                if let n = a.number, !(n.isFinite && n == n.rounded() && (1...5).contains(Int(n))) { problems[item.code] = "respond.error.range" }
            case .number:
                if let n = a.number {
                    if !n.isFinite { problems[item.code] = "respond.error.number" }
                    else if let min = item.min, n < min { problems[item.code] = "respond.error.number_range" }
                    else if let max = item.max, n > max { problems[item.code] = "respond.error.number_range" }
                }
            case .singleChoice:
                if let code = a.text, !(item.options ?? []).contains(where: { $0.code == code }) { problems[item.code] = "respond.error.choice" }
            case .multipleChoice:
                let codes = (a.text ?? "").split(separator: "|").map(String.init)
                if codes.contains(where: { code in !(item.options ?? []).contains { $0.code == code } }) { problems[item.code] = "respond.error.choice" }
            case .ranking:
                if a.text == "!invalid" { problems[item.code] = "respond.error.ranking" }
            case .freeText:
                if (a.text ?? "").count > 4000 { problems[item.code] = "respond.error.too_long" }
            }
        }
        return problems
    }

    /// Splits an `application/x-www-form-urlencoded` body into pairs, keeping repeated names and their order.
    static func formPairs(_ body: String) -> [(String, String)] {
        body.split(separator: "&").compactMap { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(s)
            }
            guard let name = parts.first else { return nil }
            return (decode(name), parts.count > 1 ? decode(parts[1]) : "")
        }
    }
}

/// Parsing a bulk invitation upload: `email,group[,institution]` per line, comma or semicolon separated,
/// UTF-8 with or without BOM, an optional header line. Bad rows are reported by line; good rows are kept.
enum InvitationCSV {
    struct Row: Equatable {
        var line: Int
        var email: String
        var group: String
        var institution: String?
    }

    struct Problem: Equatable {
        var line: Int
        var key: String
        var value: String
    }

    struct EncodingProblem: Error {}

    static func parse(_ data: Data, groups: [String]) throws -> (rows: [Row], problems: [Problem]) {
        var bytes = data
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
        guard let text = String(data: bytes, encoding: .utf8) else { throw EncodingProblem() }
        var rows: [Row] = []
        var problems: [Problem] = []
        var seen = Set<String>()
        for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }).enumerated() {
            let lineNumber = index + 1
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            let separator: Character = line.contains(";") && !line.contains(",") ? ";" : ","
            let fields = line.split(separator: separator, omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
            if lineNumber == 1, fields.first?.lowercased().contains("mail") == true { continue }
            let email = AccountRules.normalizedEmail(fields.first ?? "")
            let group = fields.count > 1 ? fields[1].lowercased() : ""
            if !AccountRules.isValidEmail(email) {
                problems.append(Problem(line: lineNumber, key: "invitations.csv.bad_email", value: fields.first ?? ""))
            } else if !groups.contains(group) {
                problems.append(Problem(line: lineNumber, key: "invitations.csv.bad_group", value: group))
            } else if seen.contains(email) {
                problems.append(Problem(line: lineNumber, key: "invitations.csv.duplicate", value: email))
            } else {
                seen.insert(email)
                rows.append(Row(line: lineNumber, email: email, group: group, institution: fields.count > 2 && !fields[2].isEmpty ? fields[2] : nil))
            }
        }
        return (rows, problems)
    }
}
