import Crypto
import Foundation

/// Open Badges 2.0 hosted documents (https://www.imsglobal.org/spec/ob/v2p0/): an Issuer profile per institution,
/// a BadgeClass per training module (or per event without a module) and an Assertion per certificate.
enum OpenBadges {
    static let context = "https://w3id.org/openbadges/v2"

    struct Issuer: Encodable, Equatable {
        var context = OpenBadges.context
        var type = "Issuer"
        var id: String
        var name: String
        var url: String
        var email: String?
        var description: String?

        enum CodingKeys: String, CodingKey {
            case context = "@context", type, id, name, url, email, description
        }
    }

    struct Criteria: Encodable, Equatable {
        var id: String?
        var narrative: String
    }

    struct BadgeClass: Encodable, Equatable {
        var context = OpenBadges.context
        var type = "BadgeClass"
        var id: String
        var name: String
        var description: String
        var image: String
        var criteria: Criteria
        var issuer: String
        var tags: [String]

        enum CodingKeys: String, CodingKey {
            case context = "@context", type, id, name, description, image, criteria, issuer, tags
        }
    }

    struct Recipient: Encodable, Equatable {
        var type = "email"
        var hashed = true
        var salt: String
        var identity: String
    }

    struct Verification: Encodable, Equatable {
        var type = "hosted"
    }

    struct Assertion: Encodable, Equatable {
        var context = OpenBadges.context
        var type = "Assertion"
        var id: String
        var recipient: Recipient
        var badge: String
        var verification = Verification()
        var issuedOn: String
        var evidence: String?
        var narrative: String?
        var revoked: Bool?
        var revocationReason: String?

        enum CodingKeys: String, CodingKey {
            case context = "@context", type, id, recipient, badge, verification, issuedOn, evidence, narrative, revoked, revocationReason
        }
    }

    /// `sha256$` + hex SHA-256 of the lower-cased email followed by the salt, as the specification's hashed identity.
    static func hashedIdentity(email: String, salt: String) -> String {
        let digest = SHA256.hash(data: Data((email.lowercased() + salt).utf8))
        return "sha256$" + digest.map { String(format: "%02x", $0) }.joined()
    }

    static func issuerURL(_ baseURL: String, institutionID: UUID) -> String { "\(baseURL)/badges/issuers/\(institutionID.uuidString.lowercased())" }
    static func badgeClassURL(_ baseURL: String, key: String) -> String { "\(baseURL)/badges/classes/\(key)" }
    static func assertionURL(_ baseURL: String, code: String) -> String { "\(baseURL)/badges/assertions/\(code)" }

    static func iso8601(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    static func assertion(baseURL: String, code: String, email: String, salt: String, badgeKey: String, issuedOn: Date,
                          revokedReason: String?) -> Assertion {
        Assertion(id: assertionURL(baseURL, code: code),
                  recipient: Recipient(salt: salt, identity: hashedIdentity(email: email, salt: salt)),
                  badge: badgeClassURL(baseURL, key: badgeKey), issuedOn: iso8601(issuedOn),
                  evidence: "\(baseURL)/verify/\(code)",
                  revoked: revokedReason == nil ? nil : true, revocationReason: revokedReason)
    }

    /// The badge picture of a BadgeClass: a simple SVG medal with the module's initials.
    static func image(title: String) -> String {
        let initials = title.split(separator: " ").filter { $0.first?.isLetter == true }.prefix(3).compactMap { $0.first.map(String.init) }.joined().uppercased()
        let escaped = initials.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        return """
        <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 200" width="200" height="200"><circle cx="100" cy="100" r="96" fill="#1c4f8c"/><circle cx="100" cy="100" r="80" fill="#fff"/><text x="100" y="118" font-family="DejaVu Sans, sans-serif" font-size="52" font-weight="bold" text-anchor="middle" fill="#1c4f8c">\(escaped)</text></svg>
        """
    }
}
