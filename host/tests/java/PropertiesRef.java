// The reference for host/tests/properties_java.rs: loads each file named on the command line
// with java.util.Properties (read as UTF-8) and prints its entries, sorted by key, one
// `key=value` line each, every character outside [A-Za-z0-9] written as a backslash, `u` and
// four upper-case hex digits (one UTF-16 unit each, so lone surrogates show). A file Java
// rejects prints `error`.
import java.io.FileInputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.util.Properties;
import java.util.TreeMap;

public class PropertiesRef {
    public static void main(String[] args) throws Exception {
        StringBuilder out = new StringBuilder();
        for (String file : args) {
            out.append("file ").append(file).append('\n');
            Properties props = new Properties();
            try (Reader reader = new InputStreamReader(new FileInputStream(file), StandardCharsets.UTF_8)) {
                props.load(reader);
            } catch (IllegalArgumentException e) {
                out.append("error\n");
                continue;
            }
            TreeMap<String, String> sorted = new TreeMap<>();
            for (String key : props.stringPropertyNames()) {
                sorted.put(key, props.getProperty(key));
            }
            for (var entry : sorted.entrySet()) {
                out.append(escape(entry.getKey())).append('=').append(escape(entry.getValue())).append('\n');
            }
        }
        System.out.print(out);
    }

    static String escape(String s) {
        StringBuilder b = new StringBuilder();
        for (char c : s.toCharArray()) {
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
                b.append(c);
            } else {
                b.append(String.format("\\u%04X", (int) c));
            }
        }
        return b.toString();
    }
}
