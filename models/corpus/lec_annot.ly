%% lec_annot.ly -- annotation hooks for the corpus builder (models/corpus).
%% Loaded with: lilypond -dinclude-settings=/abs/lec_annot.ly --png ... main.ly
%% with LEC_ANNOT_OUT=/abs/out.tsv in the environment.
%%
%% What it does, and why:
%% 1. Every printed \score gets an index K (0, 1, ... in input order) and every
%%    NoteEvent of its music a property lec-id = K * 10000000 + n. The id is
%%    copied into the stream events, into the note-head grobs' `cause', and
%%    into every unfolded copy of the note: a performed note maps to its
%%    printed head exactly, with no matching by pitch and time.
%% 2. The printed score keeps its repeat signs: \unfoldRepeats and
%%    unfold-repeats are made identities for the source, and the score is
%%    engraved without its \midi blocks.
%% 3. For each printed score a MIDI-only twin is added whose music is a deep
%%    copy with all repeats unfolded (volta, percent, tremolo, segno). Its
%%    Score context carries a Scheme performer that logs every performed
%%    note (moment, pitch, duration, id, origin), tempo changes and sustain
%%    pedal. A \midi block of the printed score (or of a MIDI-only \score
%%    that follows it, usually the source's \unfoldRepeats one) supplies the
%%    twin's tempo settings. MIDI-only scores of the source are logged too
%%    (tag mK) but produce nothing else.
%%    When unfolding changes the score's length (volta or segno repeats), a
%%    second twin plays the score as printed (tag pK: percent and tremolo
%%    repeats unfolded, which keeps the printed length; volta and segno
%%    not). Every voice of every twin logs its end: a source may write a
%%    repeat in one staff only and the other staff straight (LilyPond lays
%%    both out against the same bars), so the unfolded twin would play the
%%    hands apart; the builder compares the two twins' voice ends and plays
%%    such a score as printed.
%% 4. The PS backend's `grob-cause' stencil command is wrapped: it receives the
%%    page-absolute offset of every grob at output time; we log note heads,
%%    staff symbols and ties (to flag tied continuation heads).
%%
%% Output lines (TAB separated; moments are "num/den" of whole notes, grace
%% part separate; boxes in page units, origin top-left, y upward):
%%   PAPER  paper-width paper-height
%%   NOTE   page sysrank x0 y0 x1 y1 when-main when-grace pitch origin staff-id id durlog
%%   STAFF  page sysrank x0 y0 x1 y1 staff-id staff-space line-count
%%   TIE    id-of-right-head
%%   PERF   tag id main grace pitch duration velocity origin
%%   TEMPO  tag main grace quarter-bpm
%%   PEDAL  tag main grace value(127 down / 0 up)
%%   VEND   tag ordinal start end notes first-id context-id   (one per Voice-level
%%          context: ordinal in creation order per tag, start = its creation
%%          moment, end = end of its last note/rest/skip, main parts only)
%%   SCORE  K instrument-names...
%%   BOOK   output base name of the book whose grobs follow
\version "2.24.0"

#(define lec-port #f)
#(define (lec-out)
   (if (not lec-port)
       (let ((fn (or (getenv "LEC_ANNOT_OUT") "lec_annot.tsv")))
         (set! lec-port (open-file fn "w"))))
   lec-port)

#(define (lec-mom m)
   (format #f "~a/~a\t~a/~a"
           (ly:moment-main-numerator m) (ly:moment-main-denominator m)
           (ly:moment-grace-numerator m) (ly:moment-grace-denominator m)))

#(define (lec-origin-str o)
   (if (ly:input-location? o)
       (let ((l (ly:input-file-line-char-column o)))
         (format #f "~a:~a:~a" (basename (car l)) (cadr l) (caddr l)))
       "-"))

#(define (lec-ev-prop ev sym default)
   (if (ly:stream-event? ev) (ly:event-property ev sym default) default))

#(define (lec-ev-pitch ev)
   (let ((p (lec-ev-prop ev 'pitch #f)))
     (if (ly:pitch? p) (+ 60 (ly:pitch-semitones p)) -1)))

#(define (lec-ev-id ev)
   (let ((i (lec-ev-prop ev 'lec-id #f)))
     (if (integer? i) i -1)))

%% ---- 1. ids and 2. repeats as printed --------------------------------------
#(define lec-score-count 0)
%% Unfold all repeats. Containers may carry a cached 'length from the
%% printed form (LilyPond sets it on some sequential music), which would end
%% the unfolded performance after the printed length: drop it so the
%% length callbacks recompute it. Leaves (notes, skips) keep theirs.
#(define (lec-real-unfold-fully music)
   (music-map
    (lambda (m)
      (if (and (ly:moment? (ly:music-property m 'length #f))
               (or (pair? (ly:music-property m 'elements))
                   (ly:music? (ly:music-property m 'element #f))))
          (ly:music-set-property! m 'length '()))
      m)
    (unfold-repeats-fully music)))

%% The score as printed, for MIDI: unfold only the repeats whose unfolded
%% form has the printed length (percent, tremolo: LilyPond's MIDI would
%% play a percent repeat's body once and leave the rest silent); volta and
%% segno repeats are played straight through as printed, like LilyPond's
%% own MIDI without \unfoldRepeats. (@ (lily) ...): the source's
%% unfold-repeats is made an identity below. One type per call: given a
%% list of types, LilyPond 2.24's unfold-repeats walks every subtree once
%% per type at every level (time exponential in the depth of the music).
#(define (lec-unfold-same-length music)
   (let ((unfold (@ (lily) unfold-repeats)))
     (map-some-music
      (lambda (m)
        (and (music-is-of-type? m 'unfolded-repeated-music)
             (make-sequential-music
              (ly:music-deep-copy ((ly:music-property m 'elements-callback) m)))))
      (unfold 'tremolo (unfold 'percent music)))))

#(define (lec-moment=? a b)
   (not (or (ly:moment<? a b) (ly:moment<? b a))))

unfoldRepeats =
#(define-music-function (types music)
   ((symbol-list-or-symbol? '()) ly:music?)
   music)
#(define (unfold-repeats . args) (car (last-pair args)))

%% Old Scheme API that convert-ly cannot rewrite (gone since 2.13): keep the
%% source compiling; its beaming hints are dropped (beams may differ from
%% the source's, notes and timing do not).
#(define (override-auto-beam-setting . args) (make-music 'SequentialMusic 'elements '()))
#(define (revert-auto-beam-setting . args) (make-music 'SequentialMusic 'elements '()))

%% \repeat unfold prints its body several times from ONE music object, so
%% all copies would share ids: write it out as explicit copies first (prints
%% the same).
#(define (lec-expand-unfold music)
   (map-some-music
    (lambda (m)
      (and (music-is-of-type? m 'unfolded-repeated-music)
           (lec-expand-unfold
            (make-sequential-music
             (ly:music-deep-copy ((ly:music-property m 'elements-callback) m))))))
    music))

#(define (lec-assign-ids! music k)
   (let ((n 0))
     (music-map
      (lambda (m)
        (if (music-is-of-type? m 'note-event)
            (begin
              (ly:music-set-property! m 'lec-id (+ (* k 10000000) n))
              (set! n (1+ n))))
        m)
      music)))

%% ---- 3. the performance recorder -------------------------------------------
%% Voice-level part: in every context that has a Note_performer (so only
%% notes that sound are logged), it hears that context's own events.
%% It also logs the context's extent (VEND): the ends of one score's voices
%% in the unfolded and the as-printed twin tell whether every staff was
%% unfolded alike.
#(define lec-voice-ordinals (make-hash-table))
#(define (lec-rat r) (format #f "~a/~a" (numerator r) (denominator r)))
#(define (lec-make-voice-recorder tag)
   (lambda (context)
     (let ((velocity 0) (port (lec-out))
           (ordinal (hash-ref lec-voice-ordinals tag 0))
           (start #f) (end 0) (n-notes 0) (first-id -1))
       (define (now) (lec-mom (ly:context-current-moment context)))
       (hash-set! lec-voice-ordinals tag (1+ ordinal))
       (make-performer
        ((initialize translator)
         (set! start (ly:moment-main (ly:context-current-moment context))))
        ((finalize translator)
         (format port "VEND\t~a\t~a\t~a\t~a\t~a\t~a\t~a\n" tag ordinal
                 (lec-rat (or start 0)) (lec-rat end) n-notes first-id
                 (let ((i (ly:context-id context))) (if (string-null? i) "-" i))))
        (listeners
         ;; every note, rest, skip: where the voice's music ends (a grace
         ;; event adds no main time)
         ((rhythmic-event performer ev)
          (let* ((m (ly:context-current-moment context))
                 (d (ly:event-property ev 'duration #f))
                 (e (+ (ly:moment-main m)
                       (if (and (ly:duration? d) (zero? (ly:moment-grace m)))
                           (ly:moment-main (ly:duration-length d))
                           0))))
            (if (ly:in-event-class? ev 'note-event)
                (begin
                  (if (zero? n-notes) (set! first-id (lec-ev-id ev)))
                  (set! n-notes (1+ n-notes))))
            (if (> e end) (set! end e))))
         ((note-event performer ev)
          (let ((d (ly:event-property ev 'duration #f)))
            (format port "PERF\t~a\t~a\t~a\t~a\t~a\t~a\t~a\n"
                    tag (lec-ev-id ev) (now) (lec-ev-pitch ev)
                    (if (ly:duration? d)
                        (let ((l (ly:duration-length d)))
                          (format #f "~a/~a" (ly:moment-main-numerator l)
                                  (ly:moment-main-denominator l)))
                        "0/1")
                    velocity (lec-origin-str (ly:event-property ev 'origin #f)))))
         ((sustain-event performer ev)
          (let ((dir (ly:event-property ev 'span-direction 0)))
            (format port "PEDAL\t~a\t~a\t~a\n" tag (now) (if (eqv? dir START) 127 0))))
         ((absolute-dynamic-event performer ev)
          (let* ((txt (ly:event-property ev 'text #f))
                 (v (and (string? txt) (default-dynamic-absolute-volume txt))))
            (if (number? v)
                (set! velocity (max 1 (min 127 (inexact->exact (round (* 127 v))))))))))))))

%% Score-level part: the tempo, sampled at the end of every time step.
#(define (lec-make-score-recorder tag)
   (lambda (context)
     (let ((last-tempo #f) (port (lec-out)))
       (make-performer
        ((stop-translation-timestep translator)
         (let ((t (ly:context-property context 'tempoWholesPerMinute #f)))
           (if (ly:moment? t)
               (let ((q (* 4 (/ (ly:moment-main-numerator t) (ly:moment-main-denominator t)))))
                 (if (not (equal? q last-tempo))
                     (begin
                       (set! last-tempo q)
                       (format port "TEMPO\t~a\t~a\t~a\n" tag
                               (lec-mom (ly:context-current-moment context))
                               (exact->inexact q))))))))))))

%% Add both recorders to a (cloned) \midi output def.
#(define (lec-add-recorders! def tag)
   (let ((smods (ly:make-context-mod))
         (vmods (ly:make-context-mod)))
     (ly:add-context-mod smods (list 'consists (lec-make-score-recorder tag)))
     (ly:add-context-mod vmods (list 'consists (lec-make-voice-recorder tag)))
     (module-for-each
      (lambda (sym var)
        (if (variable-bound? var)
            (let ((cdef (variable-ref var)))
              (if (ly:context-def? cdef)
                  (let ((consists (ly:context-def-lookup cdef 'consists '())))
                    (cond
                     ((memq 'Note_performer consists)
                      (variable-set! var (ly:context-def-modify cdef vmods)))
                     ((eq? (ly:context-def-lookup cdef 'context-name) 'Score)
                      (variable-set! var (ly:context-def-modify cdef smods)))))))))
      (ly:output-def-scope def))
     def))

#(define (lec-midi-def-with-recorder base tag)
   (lec-add-recorders! (ly:output-def-clone base) tag))

%% The twins of the last printed score that had no \midi block of its own:
%% a MIDI-only score that follows lends them its \midi settings (tempo).
#(define lec-pending #f) % (k (twin-score . tag) ...) or #f

#(define (lec-instrument-names music)
   (let ((names '()))
     (music-map
      (lambda (m)
        (if (and (music-is-of-type? m 'property-set)
                 (eq? (ly:music-property m 'symbol) 'midiInstrument))
            (let ((v (ly:music-property m 'value)))
              (if (string? v) (set! names (cons v names)))))
        m)
      (ly:music-deep-copy music))
     (reverse names)))

#(define (lec-handle-score score add!)
   ;; A score whose music had errors (LilyPond says "errors found, ignoring
   ;; music expression") has no music: pass it on untouched, as LilyPond would.
   (if (or (not (ly:score? score)) (not (ly:music? (ly:score-music score))))
       (add! score)
       (let* ((defs (ly:score-output-defs score))
              (layouts (filter (lambda (d) (eq? (ly:output-def-lookup d 'output-def-kind #f) 'layout)) defs))
              (midis (filter (lambda (d) (eq? (ly:output-def-lookup d 'output-def-kind #f) 'midi)) defs))
              (music (ly:score-music score)))
         (if (or (pair? layouts) (null? midis))
             ;; a printed score: engrave as written, plus an unfolded twin
             (let* ((k lec-score-count)
                    (music (lec-expand-unfold music))
                    (printed (ly:make-score music)))
               (set! lec-score-count (1+ k))
               (lec-assign-ids! music k)
               (for-each (lambda (d) (ly:score-add-output-def! printed d)) layouts)
               (let ((h (ly:score-header score)))
                 (if (module? h) (ly:score-set-header! printed h)))
               (format (lec-out) "SCORE\t~a\t~a\n" k
                       (string-join (lec-instrument-names music) "\t"))
               (let* ((unfolded (lec-real-unfold-fully (ly:music-deep-copy music)))
                      (as-printed (lec-unfold-same-length (ly:music-deep-copy music)))
                      ;; the as-printed twin only when unfolding changes the timing
                      (twins (cons (cons (ly:make-score unfolded) k)
                                   (if (lec-moment=? (ly:music-length unfolded)
                                                     (ly:music-length as-printed))
                                       '()
                                       (list (cons (ly:make-score as-printed)
                                                   (format #f "p~a" k)))))))
                 (for-each
                  (lambda (tw)
                    (ly:score-add-output-def!
                     (car tw) (lec-midi-def-with-recorder
                               (if (pair? midis) (car midis) (ly:parser-lookup '$defaultmidi))
                               (cdr tw))))
                  twins)
                 (set! lec-pending (if (pair? midis) #f (cons k twins)))
                 (add! printed)
                 (for-each (lambda (tw) (add! (car tw))) twins)))
             ;; a MIDI-only score of the source
             (let ((k (if lec-pending (car lec-pending) (- lec-score-count 1))))
               (if lec-pending
                   (begin
                     (for-each
                      (lambda (tw)
                        (let ((tdef (car (ly:score-output-defs (car tw)))))
                          ;; copy its \midi settings (context defs incl. tempo) into the twin
                          (module-for-each
                           (lambda (sym var)
                             (if (variable-bound? var)
                                 (ly:output-def-set-variable! tdef sym (variable-ref var))))
                           (ly:output-def-scope (car midis)))
                          (lec-add-recorders! tdef (cdr tw))))
                      (cdr lec-pending))
                     (set! lec-pending #f)))
               (if (>= k 0)
                   (let ((m (ly:make-score (lec-real-unfold-fully music))))
                     (ly:score-add-output-def!
                      m (lec-midi-def-with-recorder (car midis)
                                                    (format #f "m~a" k)))
                     (add! m)))))))
   ;; handlers return value is ignored
   #t)

#(define toplevel-score-handler
   (lambda (score) (lec-handle-score score collect-scores-for-book)))
#(define toplevel-music-handler
   (lambda (music)
     (collect-music-aux (lambda (s) (lec-handle-score s collect-scores-for-book)) music)))
#(define book-score-handler
   (lambda (book score) (lec-handle-score score (lambda (s) (ly:book-add-score! book s)))))
#(define bookpart-score-handler
   (lambda (book score) (lec-handle-score score (lambda (s) (ly:book-add-score! book s)))))
#(define book-music-handler
   (lambda (book music)
     (collect-music-aux (lambda (s) (lec-handle-score s (lambda (x) (ly:book-add-score! book x))))
                        music)))
#(define bookpart-music-handler book-music-handler)

%% ---- 4. page-absolute boxes of heads, staves, ties -------------------------
#(define (lec-sysinfo grob)
   (let ((sys (ly:grob-system grob)))
     (if (ly:grob? sys)
         (format #f "~a\t~a"
                 (ly:grob-property sys 'page-number -1)
                 (ly:grob-property sys 'rank-on-page -1))
         "-1\t-1")))

#(define (lec-box offset grob)
   (let ((x (ly:grob-extent grob grob X))
         (y (ly:grob-extent grob grob Y)))
     (format #f "~,4f\t~,4f\t~,4f\t~,4f"
             (+ (car offset) (car x)) (+ (cdr offset) (car y))
             (+ (car offset) (cdr x)) (+ (cdr offset) (cdr y)))))

#(define lec-paper-done #f)
#(define lec-last-book #f)
#(define (lec-record offset grob)
   (let ((port (lec-out)))
     ;; several \book blocks write several files (name, name-1, ...), each
     ;; with page numbers from 1: say which book the following grobs are in
     (if (not (equal? current-outfile-name lec-last-book))
         (begin
           (set! lec-last-book current-outfile-name)
           (format port "BOOK\t~a\n" current-outfile-name)))
     (if (not lec-paper-done)
         (let ((lay (ly:grob-layout grob)))
           (set! lec-paper-done #t)
           (format port "PAPER\t~a\t~a\n"
                   (ly:output-def-lookup lay 'paper-width)
                   (ly:output-def-lookup lay 'paper-height))))
     (cond
      ((grob::has-interface grob 'note-head-interface)
       (let ((ev (ly:grob-property grob 'cause))
             (staff (ly:grob-object grob 'staff-symbol)))
         (format port "NOTE\t~a\t~a\t~a\t~a\t~a\t~a\t~a\t~a\n"
                 (lec-sysinfo grob) (lec-box offset grob)
                 (lec-mom (ly:grob-property (ly:item-get-column grob) 'when))
                 (lec-ev-pitch ev) (lec-origin-str (lec-ev-prop ev 'origin #f))
                 (if (ly:grob? staff) (object-address staff) 0)
                 (lec-ev-id ev)
                 (ly:grob-property grob 'duration-log 2))))
      ((grob::has-interface grob 'staff-symbol-interface)
       (format port "STAFF\t~a\t~a\t~a\t~a\t~a\n" (lec-sysinfo grob)
               (lec-box offset grob) (object-address grob)
               (ly:staff-symbol-staff-space grob)
               (ly:grob-property grob (quote line-count) 5)))
      ;; Tie spanners only: a RepeatTie (an item) is re-struck in MIDI too
      ((and (ly:spanner? grob) (grob::has-interface grob 'tie-interface))
       (let ((r (ly:spanner-bound grob RIGHT)))
         (if (grob::has-interface r 'note-head-interface)
             (format port "TIE\t~a\n" (lec-ev-id (ly:grob-property r 'cause)))))))))

#(if (not (defined? 'lec-installed))
     (let* ((m (resolve-module '(lily output-ps)))
            (alist (module-ref m 'stencil-dispatch-alist))
            (entry (assq 'grob-cause alist))
            (orig (cdr entry)))
       (set-cdr! entry (lambda (offset grob)
                         (if (ly:grob? grob) (lec-record offset grob))
                         (orig offset grob)))
       (ly:parser-define! 'lec-installed #t)))
