import Vapor

/// RFC 9457 problem document, the error shape of the JSON API.
struct Problem: Content {
    var type: String
    var title: String
    var status: Int
    var detail: String?
    var instance: String?
    /// Field-level errors for 422 responses: field name → message.
    var errors: [String: String]?
}

/// Input the API rejects, with the field messages to return.
struct ValidationProblem: AbortError {
    var status: HTTPResponseStatus { .unprocessableEntity }
    var reason: String { "The request has invalid fields." }
    var errors: [String: String]
}

/// Errors become problem documents under /api and localized HTML pages elsewhere.
/// An unauthenticated HTML request is sent to the sign-in page and comes back afterwards.
struct ProblemErrorMiddleware: AsyncMiddleware {
    func respond(to req: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        do {
            return try await next.respond(to: req)
        } catch {
            return await response(for: error, req)
        }
    }

    static func isAPI(_ req: Request) -> Bool {
        req.url.path.hasPrefix("/api/") || req.url.path == "/api"
    }

    func response(for error: any Error, _ req: Request) async -> Response {
        let status: HTTPResponseStatus
        var reason: String?
        var fieldErrors: [String: String]?
        switch error {
        case let problem as ValidationProblem:
            status = problem.status
            reason = problem.reason
            fieldErrors = problem.errors
        case let abort as any AbortError:
            status = abort.status
            reason = abort.reason
        case let decoding as DecodingError:
            status = .badRequest
            reason = "The request body could not be read: \(decoding.localizedDescription)"
        default:
            status = .internalServerError
            reason = nil
        }
        if status == .internalServerError {
            req.logger.report(error: error)
        } else {
            req.logger.info("\(req.method) \(req.url.path) → \(status.code): \(reason ?? "")")
        }

        if Self.isAPI(req) {
            let problem = Problem(
                type: "about:blank", title: status.reasonPhrase, status: Int(status.code),
                detail: status == .internalServerError ? "An unexpected error occurred." : reason,
                instance: req.url.path, errors: fieldErrors)
            let response = Response(status: status)
            try? response.content.encode(problem, using: JSONEncoder())
            response.headers.replaceOrAdd(name: .contentType, value: "application/problem+json; charset=utf-8")
            if status == .unauthorized {
                response.headers.replaceOrAdd(name: .wwwAuthenticate, value: "Bearer realm=\"interba\"")
            }
            return response
        }

        if status == .unauthorized, req.method == .GET {
            let next = req.url.path + (req.url.query.map { "?" + $0 } ?? "")
            return req.redirect(to: "/signin?next=" + (next.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "/"))
        }
        return await htmlError(status: status, reason: reason, req)
    }

    private func htmlError(status: HTTPResponseStatus, reason: String?, _ req: Request) async -> Response {
        let key: String
        switch status.code {
        case 400: key = "error.bad_request"
        case 401: key = "error.unauthorized"
        case 403: key = reason == "csrf" ? "error.csrf" : "error.forbidden"
        case 404: key = "error.not_found"
        case 413: key = "error.too_large"
        case 429: key = "error.too_many"
        default: key = status.code >= 500 ? "error.server" : "error.bad_request"
        }
        struct ErrorView: Encodable {
            var code: Int
            var message: String
        }
        do {
            // An unknown address matched no route, so the session authenticator and the locale middleware did not
            // run: sign the visitor in from the session here, so the page's header and language are theirs.
            if req.auth.get(User.self) == nil, req.hasSession, let id = req.session.authenticated(User.self),
               let user = try? await User.find(id, on: req.db) {
                req.auth.login(user)
            }
            if req.storage[RequestLocaleKey.self] == nil { req.locale = Request.locale(of: req) }
            var message = req.t(key)
            if status == .payloadTooLarge, req.headers.contentType?.type == "multipart" {
                // A file above the upload limit: say what the limit is.
                message = req.t("error.too_large_upload", ByteCountFormatter.string(fromByteCount: Int64(req.application.config.maxUploadBytes), countStyle: .file))
            }
            return try await req.page("error", titleKey: "error.title", ErrorView(code: Int(status.code), message: message), status: status)
        } catch {
            let response = Response(status: status, body: .init(string: "\(status.code) \(status.reasonPhrase)"))
            response.headers.contentType = .plainText
            return response
        }
    }
}
