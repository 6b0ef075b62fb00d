import Foundation
import NIOCore
import NIOPosix

/// A small SMTP client (RFC 5321) over SwiftNIO: EHLO, optional AUTH PLAIN, MAIL FROM, RCPT TO, DATA.
/// Written by hand because no maintained Swift SMTP package is available on this platform's package list.
/// It speaks plain SMTP: point it at a local relay (Postfix, msmtp…) that handles TLS to the outside world.
struct SMTPClient: Sendable {
    var host: String
    var port: Int
    var username: String?
    var password: String?
    var from: String
    var heloName: String = "interba"

    struct SMTPError: Error, CustomStringConvertible {
        var description: String
    }

    func send(_ message: MailMessage) async throws {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(10))
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(SMTPLineDecoder()))
                    return try NIOAsyncChannel<String, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        try await channel.executeThenClose { inbound, outbound in
            var lines = inbound.makeAsyncIterator()

            func reply() async throws -> (Int, String) {
                var text = ""
                while let line = try await lines.next() {
                    text += line + "\n"
                    let chars = Array(line)
                    if chars.count < 4 || chars[3] == " " {
                        return (Int(String(chars.prefix(3))) ?? 0, text)
                    }
                }
                throw SMTPError(description: "connection closed by the mail server")
            }

            func expect(_ codes: Set<Int>, after command: String?) async throws {
                if let command {
                    try await outbound.write(ByteBuffer(string: command + "\r\n"))
                }
                let (code, text) = try await reply()
                guard codes.contains(code) else {
                    let shown = command?.hasPrefix("AUTH") == true ? "AUTH" : (command ?? "greeting")
                    throw SMTPError(description: "\(shown): \(text.trimmingCharacters(in: .whitespacesAndNewlines))")
                }
            }

            try await expect([220], after: nil)
            try await expect([250], after: "EHLO \(heloName)")
            if let username, let password {
                let token = Data("\u{0}\(username)\u{0}\(password)".utf8).base64EncodedString()
                try await expect([235], after: "AUTH PLAIN \(token)")
            }
            try await expect([250], after: "MAIL FROM:<\(Self.address(from))>")
            try await expect([250, 251], after: "RCPT TO:<\(Self.address(message.to))>")
            try await expect([354], after: "DATA")
            try await expect([250], after: Self.render(message, from: from) + "\r\n.")
            try? await outbound.write(ByteBuffer(string: "QUIT\r\n"))
        }
    }

    /// `Name <a@b>` → `a@b`.
    static func address(_ value: String) -> String {
        if let open = value.lastIndex(of: "<"), let close = value.lastIndex(of: ">"), open < close {
            return String(value[value.index(after: open)..<close])
        }
        return value.trimmingCharacters(in: .whitespaces)
    }

    /// RFC 5322 message with UTF-8 subject (RFC 2047) and base64 body; lines are dot-stuffed by base64's alphabet.
    static func render(_ message: MailMessage, from: String) -> String {
        let subject = "=?UTF-8?B?\(Data(message.subject.utf8).base64EncodedString())?="
        let body = Data(message.body.utf8).base64EncodedString(options: [.lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed])
        let date = DateFormatter()
        date.locale = Locale(identifier: "en_US_POSIX")
        date.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        return [
            "From: \(from)",
            "To: \(message.to)",
            "Subject: \(subject)",
            "Date: \(date.string(from: Date()))",
            "Message-ID: <\(UUID().uuidString)@interba>",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: base64",
            "",
            body,
        ].joined(separator: "\r\n")
    }
}

/// Splits the server's byte stream into CRLF-terminated lines.
struct SMTPLineDecoder: ByteToMessageDecoder {
    typealias InboundOut = String

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else { return .needMoreData }
        let length = newline - buffer.readerIndex + 1
        guard let bytes = buffer.readBytes(length: length) else { return .needMoreData }
        // Strip CR LF on the bytes: as a String, "\r\n" is one character and would not match "\n".
        let content = bytes.prefix { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") }
        context.fireChannelRead(wrapInboundOut(String(decoding: content, as: UTF8.self)))
        return .continue
    }
}
