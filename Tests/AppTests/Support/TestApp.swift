@testable import App
import Fluent
import Testing
import Vapor
import VaporTesting

/// True when the suite runs on PostgreSQL (lane 2).
let onPostgres = (Environment.get("TEST_DATABASE_URL") ?? "").isEmpty == false

/// A configured, migrated application (in-memory SQLite, or the PostgreSQL of TEST_DATABASE_URL, wiped first),
/// optionally with the demo data set.
func withInterba(seed: Bool = true, campaigns: Bool = false, records: Bool = false, coordination: Bool = false, training: Bool = false, mailer: (any Mailer)? = nil, _ body: (Application) async throws -> Void) async throws {
    let app = try await Application.make(.testing)
    app.bcryptCost = 4
    if let mailer { app.mailer = mailer }
    do {
        try await configure(app)
        if onPostgres { try await app.autoRevert() }
        try await app.autoMigrate()
        if seed { _ = try await DemoSeeder.seed(app, on: app.db, withCampaigns: campaigns, withRecords: records, withCoordination: coordination, withTraining: training) }
        try await body(app)
    } catch {
        // PostgreSQL errors hide their details unless reflected.
        print("withInterba failed: \(String(reflecting: error))")
        try? await app.asyncShutdown()
        throw error
    }
    try await app.asyncShutdown()
}

/// A mailer that records what it sends (and keeps the outbox copy like the real one).
final class RecordingMailer: Mailer, @unchecked Sendable {
    private let lock = NSLock()
    private var _sent: [MailMessage] = []
    var sent: [MailMessage] { lock.withLock { _sent } }

    func send(_ message: MailMessage, on db: any Database) async throws {
        lock.withLock { _sent.append(message) }
        try await OutboxMailer().send(message, on: db)
    }

    /// The first https?:// link in the last mail to `to`.
    func link(to recipient: String) -> String? {
        guard let body = sent.last(where: { $0.to == recipient })?.body,
              let range = body.range(of: #"https?://\S+"#, options: .regularExpression) else { return nil }
        return String(body[range])
    }
}

/// A browser-like client: keeps cookies, reads the CSRF token from pages, submits forms.
final class WebClient: @unchecked Sendable {
    let app: Application
    var cookies: [String: String] = [:]
    var acceptLanguage: String?

    init(_ app: Application) { self.app = app }

    private var cookieHeader: String { cookies.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: "; ") }

    private func remember(_ response: TestingHTTPResponse) {
        for header in response.headers[.setCookie] {
            guard let pair = header.split(separator: ";").first, let eq = pair.firstIndex(of: "=") else { continue }
            let name = String(pair[..<eq]).trimmingCharacters(in: .whitespaces)
            let value = String(pair[pair.index(after: eq)...])
            if header.lowercased().contains("expires=thu, 01 jan 1970") || value.isEmpty { cookies[name] = nil } else { cookies[name] = value }
        }
    }

    func get(_ path: String, headers extra: HTTPHeaders = [:]) async throws -> TestingHTTPResponse {
        var headers = extra
        if !cookies.isEmpty { headers.replaceOrAdd(name: .cookie, value: cookieHeader) }
        if let acceptLanguage { headers.replaceOrAdd(name: .acceptLanguage, value: acceptLanguage) }
        let response = try await app.testing().sendRequest(.GET, path, headers: headers)
        remember(response)
        return response
    }

    /// The CSRF token of the current session (creates the session if needed).
    func csrfToken() async throws -> String {
        let page = try await get("/areas")
        let html = page.body.string
        guard let range = html.range(of: #"name="_csrf" value="[^"]+""#, options: .regularExpression) else {
            Issue.record("no CSRF token on the page")
            return ""
        }
        return String(html[range]).replacingOccurrences(of: "name=\"_csrf\" value=\"", with: "").replacingOccurrences(of: "\"", with: "")
    }

    static func encode(_ fields: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return fields.map { key, value in
            "\(key.addingPercentEncoding(withAllowedCharacters: allowed)!)=\(value.addingPercentEncoding(withAllowedCharacters: allowed)!)"
        }.joined(separator: "&")
    }

    /// Submits a form. With `csrf: false` the token is left out (to test the rejection).
    func post(_ path: String, _ fields: [(String, String)], csrf: Bool = true) async throws -> TestingHTTPResponse {
        var all = fields
        if csrf { all.append(("_csrf", try await csrfToken())) }
        var headers = HTTPHeaders()
        headers.contentType = .urlEncodedForm
        if !cookies.isEmpty { headers.replaceOrAdd(name: .cookie, value: cookieHeader) }
        if let acceptLanguage { headers.replaceOrAdd(name: .acceptLanguage, value: acceptLanguage) }
        let response = try await app.testing().sendRequest(.POST, path, headers: headers, body: ByteBuffer(string: Self.encode(all)))
        remember(response)
        return response
    }

    @discardableResult
    func signIn(_ email: String, _ password: String = DemoSeeder.password) async throws -> TestingHTTPResponse {
        let response = try await post("/signin", [("email", email), ("password", password)])
        #expect(response.status == .seeOther, "sign-in of \(email) failed with \(response.status)")
        return response
    }
}

extension Application {
    func user(_ email: String) async throws -> User {
        try #require(try await User.query(on: db).filter(\.$email == email).first())
    }

    func institution(_ slug: String) async throws -> Institution {
        try #require(try await Institution.query(on: db).filter(\.$slug == slug).first())
    }
}

func demo(_ local: String) -> String { "\(local)@\(DemoSeeder.domain)" }

extension String {
    /// How Leaf escapes text in HTML, to compare catalog texts with rendered pages.
    var html: String {
        self.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
            .replacingOccurrences(of: "'", with: "&#39;")
    }
}
