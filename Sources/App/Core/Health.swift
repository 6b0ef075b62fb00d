import Fluent
import Vapor

/// `/healthz`: the process answers. `/readyz`: the database answers too.
struct HealthRoutes: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get("healthz") { _ in ["status": "ok"] }
        routes.get("readyz") { req async throws -> Response in
            do {
                _ = try await Region.query(on: req.db).count()
                return try await ["status": "ready"].encodeResponse(for: req)
            } catch {
                req.logger.error("readiness check failed: \(error)")
                let response = try await ["status": "database unreachable"].encodeResponse(status: .serviceUnavailable, for: req)
                return response
            }
        }
    }
}
