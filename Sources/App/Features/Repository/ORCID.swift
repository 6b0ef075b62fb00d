import Foundation

/// ORCID iDs (https://orcid.org): parsing what people paste, and checking the ISO 7064 MOD 11-2 check digit.
enum ORCID {
    /// The canonical `0000-0002-1825-0097` form of an ORCID iD, or nil when `input` is not one.
    ///
    /// Accepts the bare iD (with or without its hyphens), the `https://orcid.org/…`, `http://orcid.org/…`,
    /// `orcid.org/…` and `www.orcid.org/…` forms, surrounding whitespace, a trailing slash and a lower-case `x`
    /// check character. Returns nil when the check digit is wrong.
    static func normalise(_ input: String) -> String? {
        var text = input.trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.count <= 64 else { return nil }
        let lower = text.lowercased()
        for prefix in ["https://www.orcid.org/", "http://www.orcid.org/", "https://orcid.org/", "http://orcid.org/",
                       "www.orcid.org/", "orcid.org/"] where lower.hasPrefix(prefix) {
            text = String(text.dropFirst(prefix.count))
            break
        }
        if text.hasSuffix("/") { text.removeLast() }

        let characters = Array(text)
        var symbols: [Character] = []
        if characters.count == 19 {
            // 0000-0000-0000-0000: hyphens exactly at 4, 9 and 14.
            for (offset, character) in characters.enumerated() {
                if offset == 4 || offset == 9 || offset == 14 {
                    guard character == "-" else { return nil }
                } else {
                    symbols.append(character)
                }
            }
        } else if characters.count == 16 {
            symbols = characters
        } else {
            return nil
        }

        var digits: [Int] = []
        for character in symbols.prefix(15) {
            guard character.isASCII, let digit = character.wholeNumberValue else { return nil }
            digits.append(digit)
        }
        let last = symbols[15]
        let check: Int
        if last == "X" || last == "x" {
            check = 10
        } else if last.isASCII, let digit = last.wholeNumberValue {
            check = digit
        } else {
            return nil
        }
        guard checkDigit(digits) == check else { return nil }

        let canonical = digits.map(String.init).joined() + (check == 10 ? "X" : String(check))
        let chars = Array(canonical)
        return [0, 4, 8, 12].map { String(chars[$0 ..< $0 + 4]) }.joined(separator: "-")
    }

    /// The https URL of an iD: `https://orcid.org/<id>`.
    static func url(_ id: String) -> String {
        "https://orcid.org/" + id
    }

    /// ISO 7064 MOD 11-2 over the first fifteen digits; 10 stands for `X`.
    private static func checkDigit(_ digits: [Int]) -> Int {
        var total = 0
        for digit in digits {
            total = (total + digit) * 2
        }
        return (12 - total % 11) % 11
    }
}
