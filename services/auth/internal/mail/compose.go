package mail

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
)

// compose writes t as an RFC 5322 message: CRLF line ends, non-ASCII
// header text as RFC 2047 words, bodies in UTF-8 quoted-printable (lines
// of at most 76 characters, so nothing is too long for SMTP). The
// Message-ID derives from the task id: a mail sent twice can be recognised.
func compose(t Task, from, to *mail.Address, now time.Time) []byte {
	var b bytes.Buffer
	domain := from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	writeHeader(&b, "Date", now.Format(time.RFC1123Z))
	writeHeader(&b, "Message-ID", "<"+strings.ReplaceAll(t.ID, ":", ".")+"@"+domain+">")
	writeHeader(&b, "From", from.String())
	writeHeader(&b, "To", to.String())
	writeHeader(&b, "Subject", mime.QEncoding.Encode("utf-8", t.Subject))
	writeHeader(&b, "MIME-Version", "1.0")
	// RFC 3834: automatic replies (out-of-office) should not answer it.
	writeHeader(&b, "Auto-Submitted", "auto-generated")
	if t.HTML == "" {
		writeHeader(&b, "Content-Type", "text/plain; charset=utf-8")
		writeHeader(&b, "Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		writeQP(&b, t.Text)
		return b.Bytes()
	}
	mw := multipart.NewWriter(&b)
	writeHeader(&b, "Content-Type", `multipart/alternative; boundary="`+mw.Boundary()+`"`)
	b.WriteString("\r\n")
	for _, part := range []struct{ mediaType, body string }{{"text/plain", t.Text}, {"text/html", t.HTML}} {
		w, _ := mw.CreatePart(textproto.MIMEHeader{ // writes to b: no error
			"Content-Type":              {part.mediaType + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		writeQP(w, part.body)
	}
	_ = mw.Close()
	return b.Bytes()
}

// writeHeader writes "name: value", folded at spaces into lines of at most
// 78 characters where the value allows it.
func writeHeader(b *bytes.Buffer, name, value string) {
	const width = 78
	// The first fold may come right after the colon, before a long first
	// word (an encoded word is up to 75 characters).
	line, start := name+": "+value, len(name)+1
	for len(line) > width {
		i := strings.LastIndexByte(line[:width], ' ')
		if i < start { // no space within the width: fold at the next one
			j := strings.IndexByte(line[width:], ' ')
			if j < 0 {
				break
			}
			i = width + j
		}
		b.WriteString(line[:i] + "\r\n")
		line, start = line[i:], 1 // the continuation line starts with the space
	}
	b.WriteString(line + "\r\n")
}

// writeQP writes text with its line ends as CRLF, quoted-printable encoded.
func writeQP(w io.Writer, text string) {
	text = strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\r", "\n")
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	qp := quotedprintable.NewWriter(w)
	_, _ = qp.Write([]byte(text))
	_ = qp.Close()
}
