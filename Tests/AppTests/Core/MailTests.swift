@testable import App
import Fluent
import NIOCore
import NIOPosix
import Testing
import Vapor

/// A small SMTP server on loopback that accepts one message and records the conversation.
final class FakeSMTPServer: @unchecked Sendable {
    private let lock = NSLock()
    private var _lines: [String] = []
    var lines: [String] { lock.withLock { _lines } }
    let requireAuth: Bool
    private var channel: (any Channel)?

    init(requireAuth: Bool = false) { self.requireAuth = requireAuth }

    func record(_ line: String) { lock.withLock { _lines.append(line) } }

    func start() async throws -> Int {
        let server = self
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(ByteToMessageHandler(SMTPLineDecoder()))
                    try child.pipeline.syncOperations.addHandler(Handler(server: server))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        self.channel = channel
        return channel.localAddress!.port!
    }

    func stop() async throws { try await channel?.close() }

    final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = String
        typealias OutboundOut = ByteBuffer
        let server: FakeSMTPServer
        var inData = false
        init(server: FakeSMTPServer) { self.server = server }

        func reply(_ context: ChannelHandlerContext, _ text: String) {
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text + "\r\n")), promise: nil)
        }

        func channelActive(context: ChannelHandlerContext) { reply(context, "220 fake.smtp ready") }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let line = unwrapInboundIn(data)
            server.record(line)
            if inData {
                if line == "." { inData = false; reply(context, "250 queued") }
                return
            }
            let upper = line.uppercased()
            if upper.hasPrefix("EHLO") { reply(context, "250-fake.smtp\r\n250 AUTH PLAIN") }
            else if upper.hasPrefix("AUTH PLAIN") {
                let expected = Data("\u{0}mailer\u{0}s3cret".utf8).base64EncodedString()
                reply(context, line.hasSuffix(expected) ? "235 ok" : "535 bad credentials")
            }
            else if upper.hasPrefix("MAIL FROM") { reply(context, server.requireAuth && !server.lines.contains { $0.hasPrefix("AUTH") } ? "530 auth first" : "250 ok") }
            else if upper.hasPrefix("RCPT TO") { reply(context, "250 ok") }
            else if upper == "DATA" { inData = true; reply(context, "354 go ahead") }
            else if upper == "QUIT" { reply(context, "221 bye"); context.close(promise: nil) }
            else { reply(context, "500 unknown") }
        }
    }
}

@Suite("Mail delivery")
struct MailTests {
    @Test("SMTP delivery goes through the job queue, speaks the protocol, encodes UTF-8, and records the mail as sent")
    func delivers() async throws {
        let server = FakeSMTPServer(requireAuth: true)
        let port = try await server.start()
        try await withInterba(seed: false) { app in
            let mailer = SMTPMailer(client: SMTPClient(host: "127.0.0.1", port: port, username: "mailer", password: "s3cret",
                                                       from: "Interba <no-reply@interba.test>"), logger: app.logger)
            mailer.install(on: app)
            try await mailer.send(MailMessage(to: "Ëndrit Çela <endrit@example.org>", subject: "Mirë se vini në Interba",
                                              body: "Përshëndetje,\nkjo është një provë."), on: app.db)
            // Nothing is sent inside the request: the mail waits in the outbox with its job.
            #expect(server.lines.isEmpty)
            #expect(try await OutboxMessage.query(on: app.db).first()?.status == .queued)
            #expect(try await Job.query(on: app.db).filter(\.$kind == SMTPMailer.job).count() == 1)
            #expect(try await app.jobs.drain() == 1)
            let lines = server.lines
            #expect(lines.contains("MAIL FROM:<no-reply@interba.test>"))
            #expect(lines.contains("RCPT TO:<endrit@example.org>"))
            let subject = "Subject: =?UTF-8?B?\(Data("Mirë se vini në Interba".utf8).base64EncodedString())?="
            #expect(lines.contains(subject))
            #expect(lines.contains("Content-Type: text/plain; charset=utf-8"))
            let bodyLines = lines.drop { !$0.isEmpty }.dropFirst().prefix { $0 != "." }
            let body = String(decoding: Data(base64Encoded: bodyLines.joined())!, as: UTF8.self)
            #expect(body == "Përshëndetje,\nkjo është një provë.")
            let stored = try #require(try await OutboxMessage.query(on: app.db).first())
            #expect(stored.status == .sent)
        }
        try await server.stop()
    }

    @Test("a refused or unreachable server: the job retries with backoff, then the mail stays in the outbox as failed, with the reason")
    func failureIsKept() async throws {
        let server = FakeSMTPServer()
        let port = try await server.start()
        try await withInterba(seed: false) { app in
            let wrong = SMTPMailer(client: SMTPClient(host: "127.0.0.1", port: port, username: "mailer", password: "nope",
                                                      from: "no-reply@interba.test"), logger: app.logger, maxAttempts: 2)
            wrong.install(on: app)
            try await wrong.send(MailMessage(to: "a@example.org", subject: "x", body: "y"), on: app.db)
            #expect(try await app.jobs.drain() == 1)
            // First attempt failed: still queued, with the reason, and the job waits for its retry.
            let waiting = try #require(try await OutboxMessage.query(on: app.db).first())
            #expect(waiting.status == .queued)
            #expect(waiting.error?.contains("535") == true)
            let job = try #require(try await Job.query(on: app.db).first())
            #expect(job.state == .queued && job.attempts == 1 && job.runAt > Date())
            // The retry is due later; run it now by moving the runner's clock.
            app.jobs.now = { Date().addingTimeInterval(3600) }
            #expect(try await app.jobs.drain() == 1)
            let failed = try #require(try await OutboxMessage.query(on: app.db).first())
            #expect(failed.status == .failed)
            #expect(failed.error?.contains("535") == true)
            #expect(failed.error?.contains("s3cret") == false)
            #expect(try await Job.query(on: app.db).first()?.state == .failed)
        }
        try await server.stop()
        try await withInterba(seed: false) { app in
            let closed = SMTPMailer(client: SMTPClient(host: "127.0.0.1", port: port, username: nil, password: nil,
                                                       from: "no-reply@interba.test"), logger: app.logger, maxAttempts: 1)
            closed.install(on: app)
            try await closed.send(MailMessage(to: "a@example.org", subject: "x", body: "y"), on: app.db)
            try await app.jobs.drain()
            #expect(try await OutboxMessage.query(on: app.db).first()?.status == .failed)
        }
    }

    @Test("addresses are taken out of display names")
    func addresses() {
        #expect(SMTPClient.address("Interba <no-reply@interba.test>") == "no-reply@interba.test")
        #expect(SMTPClient.address(" plain@example.org ") == "plain@example.org")
    }
}

@Suite("Demo data and commands")
struct DemoTests {
    @Test("seed-demo refuses a production database that already has accounts")
    func refusesProduction() async throws {
        let app = try await Application.make(.production)
        app.bcryptCost = 4
        do {
            app.config = try AppConfig.fromEnvironment(.production) { $0 == "INTERBA_SECRET" ? "test-secret-for-production-mode" : nil }
            if let url = Environment.get("TEST_DATABASE_URL"), !url.isEmpty {
                try app.databases.use(.postgres(url: url), as: .psql)
            } else {
                app.databases.use(.sqlite(.memory), as: .sqlite)
            }
            Migrations.register(on: app)
            if onPostgres { try await app.autoRevert() }
            try await app.autoMigrate()
            try await User(email: "real@uni.edu", name: "Real Person", passwordHash: "x", status: .active, institutionID: nil).create(on: app.db)
            await #expect(throws: ConfigError.self) { _ = try await DemoSeeder.seed(app, on: app.db) }
            #expect(try await User.query(on: app.db).count() == 1)
        } catch {
            try? await app.asyncShutdown()
            throw error
        }
        try await app.asyncShutdown()
    }

    @Test("production refuses to start without INTERBA_SECRET; configuration is read from the environment")
    func configuration() throws {
        #expect(throws: ConfigError.self) { try AppConfig.fromEnvironment(.production) { _ in nil } }
        let values = ["INTERBA_SECRET": "s", "INTERBA_BASE_URL": "https://interba.example.org/", "INTERBA_SMTP_HOST": "relay",
                      "INTERBA_SMTP_PORT": "2525", "INTERBA_DATA_DIR": "/var/lib/interba"]
        let config = try AppConfig.fromEnvironment(.production) { values[$0] }
        #expect(config.baseURL == "https://interba.example.org")
        #expect(config.isSecure)
        #expect(config.smtp?.host == "relay" && config.smtp?.port == 2525)
        #expect(config.dataDirectory == "/var/lib/interba")
        #expect(config.databaseURL == nil)
    }
}
