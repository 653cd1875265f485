"""Sunbeam logo for the HTML e-mail report, embedded so the job needs no asset files."""
import base64

LOGO_PNG_BASE64 = (
    "iVBORw0KGgpS8iZlpgwS0okYXZUO6IE2CRZvaxE9F41sD9OQH/I5oaCV8g+TlWUM+TgLjtsiSmsk"
    "ih6STo/Qri4alJKjMF8YjLYQkA+eNH+uiG3GUHeV7HRcTD/LLrLHPhSTTIZ+4Fe6ckmb+hIeg2sq"
    "wVcm7n1rCvarE8OOksrg0VBXsVmYf5TMdBHXF/FFebKqEA+7s0+lk/6u0nJIt2Ljq1gF8HZaK5wd"
    "fg83xEkhvT9lZOrffxQqcmaMR+Ij0W7djEe0avxbruJh9TsmFS0mO6g7A3zUli5DSAEla4henJBR"
    "8yCw24PznqetvQ105t7H89+uzI9kZWZkGnuiZg8wEfw1cCkcV5kNGgCRJokZ8l2dBhLfNZ1gJqJA"
    "9FiaXXkfHdl8/vp3entPFSQav1e9Q3rUsSmEBTTz84dcJbCL6gbCh0z6pN0XsthChF3oKlvFOYiK"
    "x4BUojmcz8n8wtoxzj3RZr3NOjOEflu7B/0Hykd4QjGxmvRYcs7vufxZ9PldFDgaOngyVjR7n/zm"
    "nNcAeuinWMykFdWpHuhjyLbAM3rjLW/KolUWzfL4uGV2Zr7yFbkoK/4gByaX53fOpyWc05j6eajv"
    "WSeMjCEFA8z4uaYahr/vI2/83zHT3zYHQDZKgD3DllNCi2vVIQ/ovVrldamV0OeEa9Pq4IAhiCaG"
    "ggTfcMYumwHGzCYsJHmeuR6OD1OuhIeOe8jGG+KPDj8wRgrFGYFzjwfC5OkQcVOc+YGbgzOxRnOC"
    "iM56gfE/soXg4PHtQuyP5PEz13Ijah9kcVASqz1tEjarTcgf5cYn8LekqV0kQOIj93c4v/MYZeJ8"
    "Kf2q1TkptG7+g2dWazJbURe4XQRWjXVwtARiVISfS4P1EBz868k6+OAaFUNFCufHLkXBIdFs2emt"
    "0fJCZyaJ64OSfrNTFkcOzLAubOUSRPAEohbNQhWb2zgRQ9wfdAJW/o1q7epEnyELhrU98Bz4KUMM"
    "LjPuT6BOh8I0SnKArC1FWM0E/kAJAwS7gY36MIN5Pu9yG6jRpm6ofovV42T4gU6wN/s6VzLV4bS6"
    "oiNn/Vj7DdYhAxKgveFBbikOFarXYd6Bq/hImT6xSwt1LyhEcgBDXfZU+PyMUj4I9+FPN1suAFVh"
    "FXlHgKczP4HGARdD0RYkZpYKZAVMTaE7FZX1h9rAJ6jkt8jhmGPDU7j8fiZIuZ6kJQvT1bfkg6Bt"
    "u7PPgSPohsCBkdXQzQTTr5XM5Lau9LGkOhUHCiKjXPUaYNVzjgygBKCIrj59QwB0zBG/7oDliReo"
    "hhC+vHlAzxPYQzy6wTQ7vab5dX7YYRN66a9JxAudoaQyE5klVEGmvrFNn5EiA3sPfET4rBmxN6x9"
    "SrWESXZ3d8Qe/uSMM0/6Fe95BEp1E9GB9/5z/kRjNery7jUTlBckv4ZD81whmtGhgkfjHLRdO3/l"
    "4HxkBigA832uc2dNuiRqWGBQHtdUAFPAVtZlHvDtMrYD5r1KQF8QZGP/3pYTXOxtwUbaDEcaDdWp"
    "SaLvJj/4RG+CUDDFX8j0beIHz8KhZung8I2MNLgUDO67aXOdwCOk3kl8DOntjCAreGpXSExBvb35"
    "p0Jnpz1Ne46rZB4qpCkTNYDnz3+MOHPoVf/Cc20jjDE+FyxXjhdRPV5Cz5Ez4wW/3mliab6GNWBF"
    "VsAPf0eT91wgr4CHocrc2TcXReU/Ymalcm70T9nQ3/cFIAhstcPlzXn3ln0AEmTu7e3Th9p3+HI/"
    "yBs5JyaF+K4b8dO4s6XYw+V1FY3GCgDIIDuR6wmlt032IKBAh6JvssMcGRJMhvGVMWNCOcqZAAKJ"
    "Tf91R/VQpdbiPnmGPIw/B/VptKZODgUxf+KspWsUQTqqbOxeOn4Isla3a1yuZTIBzEq92IERNH74"
    "M0/E0TE7dzhDwuNLG/Offpwv5Tl8aumqDvKYJexkDTYG+Zgkag21Dy9kc+W24lC7HP8U7ipUMC+n"
    "74a/dwhPqrlg1l/8VHErGwAURxRZa/TiH4/2wjVhW8TST9LNbhYMtHkyX4rrcjFSXbzleQehaT/P"
    "oMRnCmAIdhDN6w9BMb8Q5ptWXEVV9fSdC0O/t7BR7EZMALjBmOrOovLxEAbTOxt5t/R39MZiykDp"
    "btB+Ie1/LgLN7r1N0rHFJps8U9xRdVzIyJgUgzJkwCg/aBCmCHuNi1Mp+m3iGvwSQ58VNRhrf/21"
    "+HIsOyJqdZ7krDy/idjGqsIfx9dLS0eRRF9BvEIycD8vPjwnSOLolDBTEGVA/j6Bhjumzhmndv0J"
    "GgF54tE713LqXwrgSzseDDCZ+dOVMe4TX4PdLXKaQsbHqvIBG6OYtZ5ZNwleVyQLNP9BCZm7puk0"
    "0ALRU2itXy+eTxM0CMt+jHsQaBnLZamMJ6OIF6cpZbJFaPxIqk5q9A1PvpHiW2pqBN3E/81dpDJk"
    "umc08QFv5ihsHdIXZ5PiXXXFKSEDDY0kpM7oZRaSn+1evIErJVlIKYUr7BEbYn3Azsr3zjJNINbx"
    "C/npe1ANm+2iYxbntp6w0+Qpo8nbOJ5nndgy1HkukDcKZvCEKGJbHyY/+LnQ5TEK4o/XwawJqtZS"
    "HmOZdIzZoMdOpmtOlT9sY6hecoBwLQUAnvx9dzxyw57H0XXWLc95ZhsRIFtuXRfNcYGCqAoKoiEV"
    "7LtQx7iCFA3AgeVgp/PIIgbbEP+du7HQHDEh++J9SfTP6ssqr8m47jgQ1VmcwUAoUuWdRufQdCRB"
    "gPbrejWXQ52BPFFfCTIuZymi70etU+VgK8rIQx3Ehwyi21z333OOhZSw4eUaQP6JodtkvMxfQ2D9"
    "XpMlXFTDFHE6LZ2+9QxL0YRAT6P3+96V7anlULsAvwg4JkqdoG5qg13lDCF9OpynCwUNAJFaTRuF"
    "W4g5aZVNliI0XZ/UeSgiA+/NPrUmcxgQoyXfqshFZs9D9wIOpdKP5FmYpZRxmu+Eu34/KucACw+I"
    "BmcvPCgO6ccaA5yNqPAyJGkzhJukgaWkatCcLIJPEEygDP7juch6t4kBYNhvvul3FL2ncyw5/xpC"
    "O6QJH1Xkv+yx8dhDtg1Eoo2tb6/J6oX4Q0uk7ffkNxXhgQMrQuc8174z8Si/6lMx4WNUmT1h6Nqh"
    "67H7qtf6iXh41oeyAdsGb/S5O5LiTso2ZJ+VE5DpKyUIBhwbn+0pWPokswcHCiOxpKIKshG8CxDb"
    "l8NdM9H00YjkqhDh3sE="
)


def logo_png() -> bytes:
    return base64.b64decode(LOGO_PNG_BASE64)


def logo_data_uri() -> str:
    return "data:image/png;base64," + LOGO_PNG_BASE64
