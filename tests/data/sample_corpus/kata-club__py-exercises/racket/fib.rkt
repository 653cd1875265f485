#lang racket
;; Kata 2 in Racket: Fibonacci numbers three ways.

(provide fib-naive fib-iter fib-memo)

(define (fib-naive n)
  (if (< n 2)
      n
      (+ (fib-naive (- n 1)) (fib-naive (- n 2)))))

(define (fib-iter n)
  (let loop ([i 0] [a 0] [b 1])
    (if (= i n)
        a
        (loop (add1 i) b (+ a b)))))

(define memo (make-hash))
(define (fib-memo n)
  (hash-ref! memo n
             (lambda ()
               (if (< n 2) n (+ (fib-memo (- n 1)) (fib-memo (- n 2)))))))

(module+ test
  (require rackunit)
  (for ([n (in-range 20)])
    (check-equal? (fib-iter n) (fib-naive n))
    (check-equal? (fib-memo n) (fib-iter n))))
