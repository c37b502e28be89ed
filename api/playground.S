/* playground.S - api/playground.html built into the binary (http_play.c). */
    .section .rodata
    .global http_play_html
    .type http_play_html, @object
http_play_html:
    .incbin "api/playground.html"
    .global http_play_html_end
http_play_html_end:
    .byte 0
    .section .note.GNU-stack,"",@progbits
