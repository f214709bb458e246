package events

// Dead letters: an ingest message that can never succeed is copied,
// unchanged, to DLQSubject with these headers, then terminated.
const (
	DLQSubject = "ihr.dlq.ingest"
	// HeaderError is the reason.
	HeaderError = "Ihr-Error"
	// HeaderSubject is the subject the message failed on.
	HeaderSubject = "Ihr-Subject"
	// HeaderSeq is its sequence in the ingest stream.
	HeaderSeq = "Ihr-Stream-Seq"
	// HeaderMsgID is its Nats-Msg-Id: which batch of which run.
	HeaderMsgID = "Ihr-Msg-Id"
	// HeaderReplayOf names the DLQ sequence a replayed message comes from.
	HeaderReplayOf = "Ihr-Replay-Of"
)
