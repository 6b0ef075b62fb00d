import App
import Foundation
import Vapor

var env = try Environment.detect()
try bootstrapLogging(&env)
let app = try await Application.make(env)
do {
    try await configure(app)
} catch {
    app.logger.critical("Interba cannot start: \(error)")
    try? await app.asyncShutdown()
    exit(1)
}
do {
    try await app.execute()
} catch {
    // The command already printed what went wrong; end with a failure status, not a crash report.
    try? await app.asyncShutdown()
    exit(1)
}
try await app.asyncShutdown()
