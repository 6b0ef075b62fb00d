
import Vapor

extension Request {
    /// The session's CSRF token, created on first use. Every state-changing form carries it as `_csrf`.
    var csrfToken: String {
        if let token = session.data["csrf"] { return token }
        let token = SecureToken.make(bytes: 24)
        session.data["csrf"] = token
        return token
    }
}

/// Rejects POST/PUT/PATCH/DELETE on HTML routes unless the form's `_csrf` (or the `X-CSRF-Token` header)
/// matches the session's token. Nothing is changed when it is rejected.
struct CSRFMiddleware: AsyncMiddleware {
    func respond(to req: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        guard [.POST, .PUT, .PATCH, .DELETE].contains(req.method) else {
            return try await next.respond(to: req)
        }
        // Collect the body here (within the size limit: larger bodies get 413) so the token can be read from the form.
        // File uploads (multipart) may be as large as the upload limit plus room for the other fields.
        var limit = req.application.routes.defaultMaxBodySize.value
        if req.headers.contentType?.type == "multipart" {
            limit = max(limit, req.application.config.maxUploadBytes + 1024 * 1024)
        }
        if req.body.data == nil {
            _ = try await req.body.collect(max: limit).get()
        }
        if let data = req.body.data, data.readableBytes > limit {
            throw Abort(.payloadTooLarge)
        }
        let sent = req.headers.first(name: "X-CSRF-Token") ?? (try? req.content.get(String.self, at: "_csrf"))
        guard let expected = req.hasSession ? req.session.data["csrf"] : nil, let sent,
              SecureToken.constantTimeEquals(sent, expected)
        else {
            req.logger.warning("CSRF token missing or wrong on \(req.method) \(req.url.path)")
            throw Abort(.forbidden, reason: "csrf")
        }
        return try await next.respond(to: req)
    }
}

/// Random tokens and their hashes, for links, CSRF and API tokens.
enum SecureToken {
    /// URL-safe random string with `bytes` bytes of entropy.
    static func make(bytes: Int = 32) -> String {
        var generator = SystemRandomNumberGenerator()
        let data = Data((0..<bytes).map { _ in UInt8.random(in: 0...255, using: &generator) })
        return data.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Hex SHA-256, how one-time links and access tokens are stored.
    static func hash(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for i in 0..<x.count { difference |= x[i] ^ y[i] }
        return difference == 0
    }
}

extension Request {
    /// A fresh session id (on sign-in and sign-out), so an id known before is worthless after. Keeps only `keep` keys.
    func rotateSession(keeping keep: [String] = []) async throws {
        let kept = keep.compactMap { key in session.data[key].map { (key, $0) } }
        if let id = session.id {
            try await application.sessions.driver.deleteSession(id, for: self).get()
        }
        session.id = nil
        session.data = SessionData(initialData: Dictionary(uniqueKeysWithValues: kept))
    }
}
